/**
 * Children get only the environment they need (issue 15: the Gemini key reached FFmpeg). Real
 * children print what they got: FFmpeg's and the producer's supervised spawn, the device
 * runner, the snapshot; and every module that spawns anything goes through childEnv.
 */
import t, { type Test } from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childEnv } from '../../../agent/util/childEnv.js';
import { SupervisedChild } from '../../../agent/pipeline/childProcess.js';
import { FfmpegProcess } from '../../../agent/pipeline/ffmpegProcess.js';
import { snapshotFromHls } from '../../../agent/pipeline/snapshot.js';
import { runCommand } from '../../../agent/util/run.js';

const SECRETS = {
  GEMINI_API_KEY: 'gemini-sekrit',
  CREDENTIALS_DIRECTORY: '/run/credentials/edge-agent.service',
  MQTT_PASSWORD: 'mqtt-sekrit',
  AWS_SECRET_ACCESS_KEY: 'aws-sekrit',
};

function withSecrets(t: Test): void {
  const saved = { ...process.env };
  Object.assign(process.env, SECRETS, { LC_TIME: 'C.UTF-8', GST_DEBUG: '2' });
  t.teardown(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });
}

function parseEnv(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

function checkClean(t: Test, env: Record<string, string>, what: string): void {
  for (const name of Object.keys(SECRETS)) t.notOk(name in env, `${what}: no ${name}`);
  t.notMatch(JSON.stringify(env), /sekrit/, `${what}: no secret value under any name`);
  t.ok(env.PATH, `${what}: PATH kept`);
  t.equal(env.LC_TIME, 'C.UTF-8', `${what}: locale kept`);
}

t.test('childEnv: the allow-list, extras by EDGE_AGENT_CHILD_ENV but never secret-looking ones', async (t) => {
  const env = childEnv(
    { TZ: 'UTC' },
    {
      PATH: '/bin',
      HOME: '/var/lib/edge-agent',
      LANG: 'C.UTF-8',
      LC_ALL: 'C',
      TZ: 'Europe/Berlin',
      LD_PRELOAD: '/x.so',
      GST_PLUGIN_PATH: '/gst',
      LIBCAMERA_LOG_LEVELS: '*:ERROR',
      LIBVA_DRIVER_NAME: 'iHD',
      GST_AUTH_TOKEN: 'no',
      GEMINI_API_KEY: 'k',
      NOTIFY_SOCKET: '/run/n',
      INVOCATION_ID: 'i',
      FAKETIME: '+1h',
      POWERCUT_ROOT: '/p',
      EDGE_AGENT_CHILD_ENV: 'FAKETIME, POWERCUT_ROOT,GEMINI_API_KEY,bad-name,MY_TOKEN',
    },
  );
  t.same(env, {
    PATH: '/bin',
    HOME: '/var/lib/edge-agent',
    LANG: 'C.UTF-8',
    LC_ALL: 'C',
    TZ: 'UTC',
    LD_PRELOAD: '/x.so',
    GST_PLUGIN_PATH: '/gst',
    LIBCAMERA_LOG_LEVELS: '*:ERROR',
    LIBVA_DRIVER_NAME: 'iHD',
    FAKETIME: '+1h',
    POWERCUT_ROOT: '/p',
  });
  t.equal(childEnv({}, {}).PATH, '/usr/local/bin:/usr/bin:/bin', 'a PATH even when the agent has none');
  t.same(
    childEnv({}, { PATH: '/bin', HOME: undefined, TZ: 'UTC' }),
    { PATH: '/bin', TZ: 'UTC' },
    'a name set to undefined is left out, not passed on empty',
  );
});

t.test('real children: supervised spawn, FFmpeg run, device runner, snapshot', async (t) => {
  withSecrets(t);
  const dir = t.testdir({ hls: { 'index.m3u8': '#EXTM3U\n#EXTINF:1,\nseg-1.ts\n', 'seg-1.ts': 'x' } });

  const child = new SupervisedChild({ command: 'env', args: [] });
  let out = '';
  child.process.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  await child.exited;
  checkClean(t, parseEnv(out), 'supervised child');

  // A stand-in FFmpeg that writes down its environment.
  const fake = join(dir, 'ffmpeg');
  const seen = join(dir, 'seen.env');
  await writeFile(fake, `#!/bin/sh\nenv > '${seen}'\nprintf 'JPEG'\n`);
  await chmod(fake, 0o755);
  const run = new FfmpegProcess({ ffmpegPath: fake, args: [], workDir: dir });
  await run.start();
  await run.exited();
  const ffmpegEnv = parseEnv(await readFile(seen, 'utf8'));
  checkClean(t, ffmpegEnv, 'pipeline ffmpeg');
  t.equal(ffmpegEnv.TZ, 'UTC', 'pipeline ffmpeg: TZ=UTC for clock cuts');

  checkClean(t, parseEnv((await runCommand('env', [])).stdout), 'device runner (v4l2-ctl, encoder probes)');

  await snapshotFromHls(join(dir, 'hls'), fake);
  checkClean(t, parseEnv(await readFile(seen, 'utf8')), 'snapshot ffmpeg');
});

t.test('every module that starts a program gives it childEnv()', async (t) => {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const files: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) files.push(p);
    }
  };
  walk(join(root, 'agent'));
  walk(join(root, 'device'));
  const spawning = files.filter((f) => /from 'node:child_process'/.test(readFileSync(f, 'utf8')));
  // Programs that run to an end all go through util/run.ts; the pipeline's children and the
  // notify helper live as long as the agent and have their own homes.
  t.same(
    spawning.map((f) => f.slice(root.length)).sort(),
    ['agent/pipeline/childProcess.ts', 'agent/systemd/notify.ts', 'agent/util/run.ts'],
    'only the runner and the long-lived children start programs',
  );
  for (const file of spawning) {
    const text = readFileSync(file, 'utf8');
    const calls = (text.match(/\b(?:spawn|execFile|run|execFileAsync)\(\s*[^)]/g) ?? []).length;
    const envs = (
      text.match(/env: childEnv\(|env: options\.env \?\? childEnv\(|\(options\.env \?\? childEnv\(\)\)/g) ?? []
    ).length;
    t.ok(envs > 0 && envs >= calls, `${file.slice(root.length)} uses childEnv (${calls} call sites, ${envs} with it)`);
  }
});

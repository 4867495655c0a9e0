/**
 * `edge-agent doctor --json` end to end on this machine with a missing camera, a "full" disk
 * (archive.minFreePercent 90) and an unreachable broker: each a fail with a fix, exit 1.
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { agentCliArgs } from '../helpers/cli.js';

/** A loopback port that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

t.test('doctor --json reports a missing camera, a full disk and an unreachable broker', async (t) => {
  const dir = t.testdir({ archive: {} });
  const port = await closedPort();
  const config = {
    device: { id: 'doctor-test' },
    cameras: [{ id: 'cam1', source: 'v4l2:/dev/video99', width: 640, height: 360, fps: 15 }],
    // Only libx264: the check still runs a real test encode, without waiting on absent GPUs.
    encoder: { prefer: ['libx264'], bitrateKbps: 800 },
    // 90 is the schema's maximum: any disk less than 90 % empty counts as "full" here.
    archive: { dir: join(dir, 'archive'), minFreePercent: 90 },
    mqtt: { url: `mqtt://127.0.0.1:${port}` },
  };
  const file = join(dir, 'config.json');
  (await import('node:fs')).writeFileSync(file, JSON.stringify(config));
  const started = Date.now();
  const r = spawnSync(process.execPath, [...agentCliArgs(), 'doctor', '--json', '--config', file], {
    encoding: 'utf8',
    env: { ...process.env, CREDENTIALS_DIRECTORY: join(dir, 'no-creds') },
    timeout: 120_000,
  });
  t.equal(r.status, 1, `exit 1 on any fail (stderr: ${r.stderr})`);
  const { checks } = JSON.parse(r.stdout) as { checks: Check[] };
  const by = (name: string) => checks.find((c) => c.name === name);
  for (const c of checks) t.ok(['ok', 'warn', 'fail'].includes(c.status), `${c.name}: ${c.status}`);
  for (const c of checks.filter((x) => x.status !== 'ok')) t.ok(c.fix, `${c.name} has a fix`);

  t.equal(by('config')?.status, 'ok');
  t.match(by('camera cam1'), { status: 'fail', detail: /\/dev\/video99 does not exist/, fix: /v4l2-ctl/ });
  t.match(by('disk'), { status: 'fail', detail: /below archive\.minFreePercent 90/, fix: /archive/ });
  t.match(by('broker'), {
    status: 'fail',
    detail: new RegExp(`127\\.0\\.0\\.1:${port}.*ECONNREFUSED`),
    fix: /nothing listens/,
  });
  t.match(by('encoders'), { status: 'ok', detail: /libx264: works/ });
  t.match(by('ffmpeg'), { status: 'ok', detail: /^ffmpeg version/ });
  t.ok(Date.now() - started < 60_000, 'finishes promptly');
});

t.test('doctor (human) prints one line per check and the fixes', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'config.json');
  (await import('node:fs')).writeFileSync(
    file,
    JSON.stringify({
      cameras: [{ id: 'c', source: 'test', width: 320, height: 240, fps: 10 }],
      encoder: { prefer: ['libx264'], bitrateKbps: 300 },
    }),
  );
  const r = spawnSync(process.execPath, [...agentCliArgs(), 'doctor', '--config', file], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  t.match(r.stdout, /^ok {4}camera c {2,}test pattern/m);
  t.match(r.stdout, /^ok {4}broker {2,}embedded/m);
  t.match(r.stdout, /(all checks ok|no fails, \d+ warning\(s\)|\d+ fail\(s\))\n$/);
  t.equal(r.status, r.stdout.includes('FAIL') ? 1 : 0, 'exit status follows the fails');
});

const CAN_MOUNT =
  process.getuid?.() === 0 &&
  spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs none /mnt'], { stdio: 'ignore' })
    .status === 0;

t.test(
  'a really full disk: archive.dir on a filled 1 MB tmpfs',
  { skip: CAN_MOUNT ? false : 'needs root and mount namespaces' },
  async (t) => {
    const dir = t.testdir({ archive: {} });
    const archive = join(dir, 'archive');
    const file = join(dir, 'config.json');
    (await import('node:fs')).writeFileSync(
      file,
      JSON.stringify({
        cameras: [{ id: 'c', source: 'test', width: 320, height: 240, fps: 10 }],
        encoder: { prefer: ['libx264'], bitrateKbps: 300 },
        archive: { dir: archive, minFreePercent: 10 },
      }),
    );
    const script = `mount -t tmpfs -o size=1m none '${archive}' && (head -c 2000000 /dev/zero > '${archive}/fill' 2>/dev/null || true) && exec "$0" ${agentCliArgs()
      .map((a) => `'${a}'`)
      .join(' ')} doctor --json --config '${file}'`;
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, process.execPath], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    t.equal(r.status, 1, r.stderr);
    const disk = (JSON.parse(r.stdout) as { checks: Check[] }).checks.find((c) => c.name === 'disk');
    t.match(disk, {
      status: 'fail',
      detail: new RegExp(`0\\.0 GB free of 0\\.0 GB \\(0\\.0 %\\) at ${archive.replace(/[.]/g, '\\.')}`),
      fix: /oldest archives/,
    });
  },
);

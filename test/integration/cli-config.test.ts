/** Spawns the real `edge-agent` CLI (through tsx) for `config check` and `config print`. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { agentCliArgs } from '../helpers/cli.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// The developer's own EDGE_AGENT_* variables must not change what these tests see.
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('EDGE_AGENT_')));
  return { ...env, ...extra };
}

function cli(args: string[], extra: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...agentCliArgs(), ...args],
      { cwd: ROOT, env: cleanEnv(extra), timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

t.test('config check: 0 and "config ok" for a valid file', async (t) => {
  const dir = t.testdir({
    'config.json': JSON.stringify({
      device: { id: 'gate-01' },
      hls: { segmentSeconds: 2 },
      archive: { segmentSeconds: 600 },
    }),
  });
  const file = path.join(dir, 'config.json');
  const r = await cli(['config', 'check', file]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, `config ok: ${file}\n`);
  t.equal(r.stderr, '');
});

t.test('config check: 2 and one line per problem for an invalid file', async (t) => {
  const dir = t.testdir({
    'config.json': JSON.stringify({
      cameras: [{ id: 'cam1', source: 'usb', width: 1280, height: 720, fps: 0, zoom: 1 }],
      hls: { segmentSeconds: 4 },
      archive: { segmentSeconds: 10 },
      http: { listen: '0.0.0.0:8080' },
      extra: true,
    }),
  });
  const r = await cli(['config', 'check', path.join(dir, 'config.json')]);
  t.equal(r.code, 2);
  t.equal(r.stdout, '');
  t.same(r.stderr.trimEnd().split('\n'), [
    'extra is not a known key; known keys: device, cameras, encoder, hls, archive, mqtt, analysis, http, dataDir',
    'cameras[0].zoom is not a known key; a camera has id, source, width, height, fps, analysis',
    'cameras[0].source must be auto, test, v4l2:/dev/<device>, csi, csi:<n>, or an rtsp://, rtsps://, http://, https:// or file: url, got "usb"',
    'cameras[0].fps must be an integer between 1 and 120, got 0',
    'archive.segmentSeconds must be a whole multiple of hls.segmentSeconds (4) so cuts fall on keyframes, got 10',
    'http.tokenFile must be set when http.listen is off loopback ("0.0.0.0:8080"), got null',
  ]);
});

t.test('config check: a missing or unparsable file exits 2 with the reason', async (t) => {
  const dir = t.testdir({ 'broken.json': '{\n  "mqtt": {"url": "embedded",}\n}\n' });
  let r = await cli(['config', 'check', path.join(dir, 'nope.json')]);
  t.equal(r.code, 2);
  t.match(r.stderr, /nope\.json cannot be read: enoent/);
  r = await cli(['config', 'check', path.join(dir, 'broken.json')]);
  t.equal(r.code, 2);
  t.match(r.stderr, /broken\.json is not valid json at line 2, column 30 \(position 31\)/);
  r = await cli(['config', 'check']);
  t.equal(r.code, 2);
  t.match(r.stderr, /usage/);
});

t.test('config print: effective config, secrets redacted', async (t) => {
  const dir = t.testdir({
    'config.json': JSON.stringify({
      cameras: [{ id: 'gate', source: 'rtsp://admin:camsecret@10.0.0.9/live' }],
      mqtt: {
        url: 'mqtts://agent:brokersecret@broker:8883',
        passwordFile: '/etc/edge-agent/pw',
        commandKeyFile: '/etc/k',
      },
      analysis: { apiKeyFile: '/etc/gemini' },
      http: { listen: '0.0.0.0:8080', tokenFile: '/etc/token' },
    }),
  });
  const file = path.join(dir, 'config.json');
  const r = await cli(['config', 'print', '--config', file, '--set', 'cameras[0].fps=15'], {
    EDGE_AGENT_MQTT_TOPIC_PREFIX: 'site',
  });
  t.equal(r.code, 0, r.stderr);
  const printed = JSON.parse(r.stdout);
  t.equal(printed.cameras[0].source, 'rtsp://admin:[redacted]@10.0.0.9/live');
  t.equal(printed.cameras[0].fps, 15, '--set applied');
  t.equal(printed.mqtt.topicPrefix, 'site', 'environment applied');
  t.equal(printed.mqtt.url, 'mqtts://agent:[redacted]@broker:8883');
  for (const key of ['passwordFile', 'commandKeyFile']) t.equal(printed.mqtt[key], '[redacted]', `mqtt.${key}`);
  t.equal(printed.analysis.apiKeyFile, '[redacted]');
  t.equal(printed.http.tokenFile, '[redacted]');
  t.notMatch(r.stdout, /camsecret|brokersecret/);
});

t.test('config print: built-in defaults, and invalid overrides exit 2', async (t) => {
  let r = await cli(['config', 'print'], { EDGE_AGENT_CONFIG: '' });
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).mqtt.url, 'embedded');
  r = await cli(['config', 'print', '--set', 'hls.listSize=1']);
  t.equal(r.code, 2);
  t.equal(r.stderr, 'hls.listSize must be an integer between 2 and 100, got 1\n');
});

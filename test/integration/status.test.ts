/**
 * `edge-agent status`: the not-reachable path through the real CLI, and the summary against a
 * local HTTP server that answers /api/status the way the agent does (with a bearer token).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { formatDuration, formatStatus, statusCommand, statusUrl } from '../../agent/cli/status.js';
import { freePort } from '../helpers/mosquitto.js';
import { agentCliArgs } from '../helpers/cli.js';

const BODY = {
  device: 'gate-01',
  version: '1.2.0',
  startedAt: '2026-01-01T00:00:00Z',
  mqtt: {
    connected: true,
    url: 'mqtts://board:secret@broker.example:8883',
    protocolVersion: 5,
    connects: 1,
    failures: 0,
    lastError: null,
  },
  cameras: [
    {
      camera: 'cam1',
      state: 'running',
      encoder: 'h264_v4l2m2m',
      source: 'auto',
      fps: 29.97,
      droppedFrames: 0,
      restarts: 1,
      lastFrameAgeSeconds: 0.04,
      recordingSince: null,
      lastError: null,
    },
    {
      camera: 'yard',
      state: 'restarting',
      encoder: null,
      source: 'rtsp://x',
      fps: 0,
      droppedFrames: 0,
      restarts: 7,
      lastFrameAgeSeconds: null,
      recordingSince: null,
      lastError: 'connection refused\nmore',
    },
  ],
  disk: { path: '/var/lib/edge-agent/archive', totalBytes: 32 * 1024 ** 3, freeBytes: 8 * 1024 ** 3, freePercent: 25 },
};

t.test('not reachable: a message and exit 1 (real CLI)', async (t) => {
  const dir = t.testdir({});
  const port = await freePort();
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ http: { listen: `127.0.0.1:${port}` } }));
  const r = spawnSync(process.execPath, [...agentCliArgs(), 'status', '--config', file], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(r.status, 1);
  t.match(r.stderr, new RegExp(`no agent answering at http://127\\.0\\.0\\.1:${port}/api/status \\(ECONNREFUSED\\)`));
  t.match(r.stderr, /systemctl status edge-agent/);
  t.equal(r.stdout, '');
});

t.test('summary from a running /api/status, with the bearer token', async (t) => {
  const dir = t.testdir({ token: 'tok-1\n' });
  const seen: Array<string | undefined> = [];
  const server = createServer((req, res) => {
    seen.push(req.headers.authorization);
    if (req.url !== '/api/status') return void res.writeHead(404).end();
    if (req.headers.authorization !== 'Bearer tok-1') return void res.writeHead(401).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(BODY));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ http: { listen: `0.0.0.0:${port}`, tokenFile: join(dir, 'token') } }));
  let out = '';
  let err = '';
  const io = {
    out: (s: string) => void (out += s),
    err: (s: string) => void (err += s),
    fetch: globalThis.fetch,
    env: {},
    timeoutMs: 2000,
  };
  const code = await statusCommand({ config: file, set: [], json: false, positionals: [] }, io);
  t.equal(code, 0, err);
  t.same(seen, ['Bearer tok-1']);
  t.match(out, /^edge-agent gate-01, version 1\.2\.0, up /);
  t.match(out, /mqtt: {4}connected to mqtts:\/\/broker\.example:8883/);
  t.notMatch(out, /secret/, 'no password from the url');
  t.match(out, /disk: {4}8\.0 GB free of 32\.0 GB \(25 %\) at \/var\/lib\/edge-agent\/archive/);
  t.match(out, /cam1 {2}running +h264_v4l2m2m +30\.0 fps {2}1 restart\(s\) {2}last frame 0\.0 s ago/);
  t.match(out, /yard {2}restarting +- +0\.0 fps {2}7 restart\(s\) {2}no frame yet {2}\(connection refused\)/);

  // A wrong token: the agent refuses, status says so and exits 1.
  writeFileSync(join(dir, 'token'), 'wrong\n');
  err = '';
  t.equal(await statusCommand({ config: file, set: [], json: false, positionals: [] }, io), 1);
  t.match(err, /refused the request \(HTTP 401\): check http\.tokenFile/);
});

t.test('pure helpers', async (t) => {
  t.equal(statusUrl('127.0.0.1:8080'), 'http://127.0.0.1:8080/api/status');
  t.equal(statusUrl('0.0.0.0:9000'), 'http://127.0.0.1:9000/api/status');
  t.equal(statusUrl('[::]:8080'), 'http://[::1]:8080/api/status');
  t.equal(statusUrl('8080'), 'http://127.0.0.1:8080/api/status');
  t.equal(formatDuration(41), '41 s');
  t.equal(formatDuration(125), '2m 05s');
  t.equal(formatDuration(7500), '2h 05m');
  t.equal(formatDuration(3 * 86400 + 4 * 3600), '3d 4h');
  const minimal = formatStatus({}, 0);
  t.match(minimal, /edge-agent \(unknown device\), version \?, up \?/);
  t.match(minimal, /cameras: none running/);
  t.match(
    formatStatus({ uptime: 60, device: { id: 'x' }, mqtt: 'embedded' }),
    /edge-agent x, version \?, up 1m 00s\nmqtt: {4}embedded/,
  );
});

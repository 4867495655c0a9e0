/**
 * The real agent (`edge-agent run`, synthetic camera) against a real Mosquitto: birth and will,
 * events from the pipeline, commands end to end (snapshot, list-archives, set-config,
 * restart-pipeline), bad commands change nothing.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { AgentProcess, testConfig } from '../helpers/agentProcess.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqttClient.js';

t.test('the real agent over MQTT', async (t) => {
  const dir = t.testdir();
  const broker = new Mosquitto({ dir: path.join(dir, 'broker') });
  await broker.start();
  t.teardown(() => broker.stop());
  const config = testConfig(dir, { mqtt: { url: broker.url, healthIntervalSeconds: 5 } });
  const root = 'edge/test-device';
  const watcher = await TestClient.connect(broker.url, { protocolVersion: 5 });
  t.teardown(() => watcher.end());
  await watcher.subscribe(`${root}/#`);

  const agent = AgentProcess.start(dir, config);
  t.teardown(() => agent.stop());
  const online = await watcher.waitFor(
    (m) => m.topic === `${root}/status` && (m.json as { state?: string }).state === 'online',
    20_000,
  );
  t.match(online.json, { state: 'online', version: String, startedAt: String, ts: String }, 'retained online status');
  await watcher.waitFor(
    (m) => m.topic === `${root}/events` && (m.json as { type?: string }).type === 'pipeline.started',
    20_000,
  );
  const finished = await watcher.waitFor(
    (m) => m.topic === `${root}/events` && (m.json as { type?: string }).type === 'archive.finished',
    30_000,
  );
  t.match(
    finished.json,
    {
      type: 'archive.finished',
      camera: 'cam1',
      file: /^cam1\/\d{4}-\d{2}-\d{2}\/archive_\d{8}T\d{6}Z\.mp4$/,
      start: String,
      seconds: Number,
      bytes: Number,
      ts: String,
    },
    'archive.finished carries file, start, seconds, bytes',
  );
  const health = await watcher.waitFor(
    (m) =>
      m.topic === `${root}/health` &&
      (m.json as { cameras?: Array<{ state?: string }> }).cameras?.[0]?.state === 'running',
    15_000,
  );
  t.match(
    health.json,
    {
      cameras: [
        {
          camera: 'cam1',
          state: 'running',
          encoder: 'libx264',
          fps: Number,
          restarts: Number,
          lastFrameAgeSeconds: Number,
        },
      ],
    },
    'health carries per-camera figures',
  );

  const client = await TestClient.connect(broker.url, { protocolVersion: 5 });
  t.teardown(() => client.end());
  const ping = await client.command(`${root}/cmd/ping`, {}, 'v5', 'replies/a');
  t.match(ping.json, { ok: true, result: { pong: true, version: String } }, 'ping (MQTT 5 reply)');
  const snapshot = await client.command(`${root}/cmd/snapshot`, { camera: 'cam1' }, 'v311', 'replies/b');
  const snap = snapshot.json as { ok: boolean; result: { jpegBase64: string; width: number; height: number } };
  t.ok(
    snap.ok &&
      Buffer.from(snap.result.jpegBase64, 'base64')
        .subarray(0, 2)
        .equals(Buffer.from([0xff, 0xd8])),
    'snapshot is a JPEG',
  );
  t.same([snap.result.width, snap.result.height], [320, 240], 'snapshot has the camera size');
  const list = await client.command(`${root}/cmd/list-archives`, { camera: 'cam1', limit: 5 }, 'v5', 'replies/c');
  t.match(
    list.json,
    {
      ok: true,
      result: [{ camera: 'cam1', file: String, start: String, seconds: Number, bytes: Number, analysed: false }],
    },
    'list-archives',
  );

  const configFile = path.join(dir, 'config.json');
  const before = await readFile(configFile, 'utf8');
  const bad = await client.command(`${root}/cmd/set-config`, { set: { 'hls.segmentSeconds': 0 } }, 'v5', 'replies/d');
  t.match(
    bad.json,
    { ok: false, error: { code: String, message: /hls\.segmentSeconds/ } },
    'invalid set-config refused with the key named',
  );
  t.equal(await readFile(configFile, 'utf8'), before, 'and the config file is untouched');
  const unknown = await client.command(`${root}/cmd/self-destruct`, {}, 'v5', 'replies/e');
  t.match(unknown.json, { ok: false, error: { code: String } }, 'unknown command refused');

  const restarts = agent.events('pipeline.started').length;
  const good = await client.command(
    `${root}/cmd/set-config`,
    { set: { 'encoder.bitrateKbps': 300 } },
    'v5',
    'replies/f',
    30_000,
  );
  t.match(good.json, { ok: true }, 'valid set-config accepted');
  t.match(
    JSON.parse(await readFile(configFile, 'utf8')),
    { encoder: { bitrateKbps: 300 } },
    'persisted to the config file',
  );
  await agent.waitEvent('pipeline.started', restarts + 1);
  t.pass('the pipeline restarted with the new bitrate');
  await watcher.waitFor(
    (m) => m.topic === `${root}/events` && (m.json as { type?: string }).type === 'config.changed',
    10_000,
  );

  const restart = await client.command(`${root}/cmd/restart-pipeline`, {}, 'v5', 'replies/g', 30_000);
  t.match(restart.json, { ok: true, result: { restarted: ['cam1'] } }, 'restart-pipeline');

  agent.child.kill('SIGKILL');
  const will = await watcher.waitFor(
    (m) => m.topic === `${root}/status` && (m.json as { state?: string }).state === 'offline',
    90_000,
  );
  t.match(will.json, { state: 'offline' }, 'offline will published after kill -9');
  const late = await TestClient.connect(broker.url, { protocolVersion: 5 });
  t.teardown(() => late.end());
  await late.subscribe(`${root}/status`);
  const retained = await late.waitFor((m) => m.topic === `${root}/status`, 5_000);
  t.match(retained.json, { state: 'offline' }, 'offline is retained for newcomers');
});

import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { EmbeddedBroker } from '../../agent/link/embeddedBroker.js';
import { silentLogger } from '../../agent/util/logger.js';
import { testConfig } from '../helpers/agentFakes.js';
import { LinkProcess } from '../helpers/linkProcess.js';
import { freePort, Mosquitto } from '../helpers/mosquitto.js';
import { sleep, TestClient } from '../helpers/mqttClient.js';

const R = 'edge/gate-01';

async function setup(t: Test, healthIntervalSeconds = 30) {
  const dir = t.testdir();
  const broker = new Mosquitto({ dir: `${dir}/broker` });
  await broker.start();
  t.teardown(() => broker.stop());
  const config = testConfig({ url: broker.url, dataDir: `${dir}/data` });
  config.mqtt.healthIntervalSeconds = healthIntervalSeconds;
  const input = { config, password: null, commandKey: null, reconnect: { initialMs: 200, maxMs: 2000 } };
  const watcher = await TestClient.connect(broker.url);
  t.teardown(() => watcher.end());
  await watcher.subscribe(`${R}/#`);
  return { dir, broker, input, watcher };
}

t.test('birth: retained online status with version and startedAt; config retained and redacted', async (t) => {
  const { dir, input, broker } = await setup(t);
  const link = await LinkProcess.start(dir, input);
  t.teardown(() => link.kill());
  await link.connected();
  const late = await TestClient.connect(broker.url);
  t.teardown(() => late.end());
  await late.subscribe(`${R}/status`);
  await late.subscribe(`${R}/config`);
  const status = await late.waitFor((m) => m.topic === `${R}/status`);
  t.ok(status.retain, 'retained');
  t.match(status.json, { state: 'online', version: '0.1.0-test', startedAt: String, ts: String });
  const config = await late.waitFor((m) => m.topic === `${R}/config`);
  t.ok(config.retain);
  t.match(config.json, { device: { id: 'gate-01' }, mqtt: { passwordFile: '[redacted]' } });
  t.equal((await link.state()).link.protocolVersion, 5, 'mosquitto speaks MQTT 5');
});

t.test('will: kill -9 of the link process leaves a retained offline status', async (t) => {
  const { dir, input, broker, watcher } = await setup(t);
  const link = await LinkProcess.start(dir, input);
  await link.connected();
  await watcher.waitFor((m) => m.topic === `${R}/status` && (m.json as { state: string }).state === 'online');
  await link.kill();
  // The broker notices the dead TCP connection at once (RST), else after 1.5 × keepalive.
  await watcher.waitFor((m) => m.topic === `${R}/status` && (m.json as { state: string }).state === 'offline', 50_000);
  const late = await TestClient.connect(broker.url);
  t.teardown(() => late.end());
  await late.subscribe(`${R}/status`);
  t.match((await late.waitFor((m) => m.topic === `${R}/status`)).json, { state: 'offline', version: '0.1.0-test' });
});

t.test('clean stop publishes offline itself and exits 0; the next start connects', async (t) => {
  const { dir, input, watcher } = await setup(t);
  const link = await LinkProcess.start(dir, input);
  await link.connected();
  t.equal(await link.stop(), 0);
  await watcher.waitFor((m) => m.topic === `${R}/status` && (m.json as { state: string }).state === 'offline');
  const again = await LinkProcess.start(dir, input);
  t.teardown(() => again.kill());
  await again.connected();
  t.pass('a second start with the same data dir works after a clean stop');
});

t.test('health: retained, QoS 0, with cpu, memory, disk, cameras, outbox; repeated every interval', async (t) => {
  const { dir, input, watcher } = await setup(t, 1);
  const link = await LinkProcess.start(dir, input);
  t.teardown(() => link.kill());
  await link.connected();
  const health = await watcher.waitFor((m) => m.topic === `${R}/health`);
  t.match(health.json, {
    ts: String,
    cpu: { cores: Number },
    memory: { totalBytes: Number },
    temperatures: Array,
    cameras: Array,
    outbox: { depth: Number, dropped: Number },
    mqtt: { connected: true },
  });
  await sleep(2500);
  t.ok(watcher.on(`${R}/health`).length >= 3, 'published again each second');
});

t.test('events and analysis go out on R/events and R/analysis with an id', async (t) => {
  const { dir, input, watcher } = await setup(t);
  const link = await LinkProcess.start(dir, input);
  t.teardown(() => link.kill());
  await link.connected();
  link.emit('camera.lost', { camera: 'cam1', source: 'v4l2:/dev/video0', reason: 'unplugged' });
  link.analysis({
    camera: 'cam1',
    archive: 'cam1/2025-01-01/archive_20250101T000000Z.mp4',
    start: 'a',
    end: 'b',
    model: 'm',
    summary: 's',
    events: [],
    ts: 'c',
  });
  const event = await watcher.waitFor((m) => m.topic === `${R}/events`);
  t.match(event.json, { type: 'camera.lost', camera: 'cam1', reason: 'unplugged', ts: String, id: String });
  t.notOk(event.retain);
  const analysis = await watcher.waitFor((m) => m.topic === `${R}/analysis`);
  t.match(analysis.json, { camera: 'cam1', summary: 's', events: [], id: String });
  await sleep(300);
  t.equal((await link.state()).outbox.depth, 0, 'deleted on PUBACK');
});

t.test('embedded broker: 3.1.1 link on loopback; a technician can subscribe locally', async (t) => {
  const dir = t.testdir();
  const port = await freePort();
  const input = {
    config: testConfig({ url: 'embedded', dataDir: `${dir}/data` }),
    password: null,
    commandKey: null,
    embeddedPort: port,
  };
  const link = await LinkProcess.start(dir, input);
  t.teardown(() => link.kill());
  await link.connected();
  // Every client of the embedded broker logs in (issue 15): a technician with the password the agent made.
  const password = readFileSync(`${dir}/data/mqtt-technician`, 'utf8').trim();
  const local = await TestClient.connect(`mqtt://127.0.0.1:${port}`, {
    protocolVersion: 4,
    username: 'technician',
    password,
  });
  t.teardown(() => local.end());
  await local.subscribe(`${R}/status`);
  t.match((await local.waitFor((m) => m.topic === `${R}/status`)).json, { state: 'online' });
  const reply = await local.command(`${R}/cmd/ping`, {}, 'v311', `replies/${R}`);
  t.match(reply.json, { ok: true, result: { pong: true } });
  t.equal((await link.state()).link.protocolVersion, 4);
});

t.test('a broker that refuses MQTT 5 (aedes) gets 3.1.1', async (t) => {
  const dir = t.testdir();
  const aedes = new EmbeddedBroker({ log: silentLogger(), port: await freePort(), auth: null });
  await aedes.start();
  t.teardown(() => aedes.stop());
  const input = {
    config: testConfig({ url: aedes.url(), dataDir: `${dir}/data` }),
    password: null,
    commandKey: null,
    reconnect: { initialMs: 100 },
  };
  const link = await LinkProcess.start(dir, input);
  t.teardown(() => link.kill());
  await link.connected();
  t.equal((await link.state()).link.protocolVersion, 4);
});

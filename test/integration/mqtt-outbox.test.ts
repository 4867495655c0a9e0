import t from 'tap';
import mqtt from 'mqtt';
import { testConfig } from '../helpers/agentFakes.js';
import { LinkProcess } from '../helpers/linkProcess.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { sleep } from '../helpers/mqttClient.js';
import { waitFor } from '../helpers/waitFor.js';

const R = 'edge/gate-01';

function archive(n: number) {
  const stamp = `20250101T${String(Math.floor(n / 6)).padStart(2, '0')}${String((n % 6) * 10).padStart(2, '0')}00Z`;
  return {
    camera: 'cam1',
    file: `cam1/2025-01-01/archive_${stamp}.mp4`,
    start: `2025-01-01T00:00:00Z`,
    seconds: 600,
    bytes: 1000 + n,
    clockSynced: true,
  };
}

t.test(
  'broker down 20 s and the link restarted meanwhile: every archive.finished exactly once, in order',
  async (t) => {
    const dir = t.testdir();
    const broker = new Mosquitto({ dir: `${dir}/broker` });
    await broker.start();
    t.teardown(() => broker.stop());

    // The back end: a persistent QoS 1 subscriber (fixed client id, clean: false, a session that outlives a disconnect).
    const received: Array<{ id: string; bytes: number }> = [];
    const sub = mqtt.connect(broker.url, {
      clientId: 'backend-events',
      clean: false,
      protocolVersion: 5,
      reconnectPeriod: 300,
      properties: { sessionExpiryInterval: 3600 },
    });
    sub.on('error', () => undefined);
    t.teardown(() => sub.endAsync(true));
    await new Promise((resolve) => sub.once('connect', resolve));
    await sub.subscribeAsync(`${R}/events`, { qos: 1 });
    sub.on('message', (_topic, payload) => {
      const event = JSON.parse(payload.toString()) as { id: string; bytes: number; type: string };
      if (event.type === 'archive.finished') received.push({ id: event.id, bytes: event.bytes });
    });

    const input = {
      config: testConfig({ url: broker.url, dataDir: `${dir}/data` }),
      password: null,
      commandKey: null,
      reconnect: { initialMs: 200, maxMs: 2000 },
    };
    let link = await LinkProcess.start(dir, input);
    t.teardown(() => link.kill());
    await link.connected();

    let n = 0;
    const emit = () => link.emit('archive.finished', archive(n++));
    for (let i = 0; i < 3; i += 1) emit();
    await sleep(500);
    t.equal(received.length, 3, 'delivered while connected');

    await broker.stop();
    const outageStart = Date.now();
    for (let i = 0; i < 5; i += 1) {
      emit();
      await sleep(1000);
    }
    await link.state(); // IPC is ordered: every emit above has been stored
    t.equal(await link.stop(), 0, 'clean stop with the broker down');
    link = await LinkProcess.start(dir, input);
    t.equal((await link.state()).outbox.depth, 5, 'the restarted link found the 5 unsent events on disk');
    for (let i = 0; i < 5; i += 1) {
      emit();
      await sleep(1000);
    }
    await link.state();
    await link.kill(); // and once more, brutally
    link = await LinkProcess.start(dir, input);
    for (let i = 0; i < 3; i += 1) emit();
    await link.state();
    t.equal((await link.state()).outbox.depth, 13);
    await sleep(Math.max(0, 20_000 - (Date.now() - outageStart)));
    await broker.start();

    await waitFor(
      () => `all ${n} events (${received.length} so far)`,
      () => received.length >= n,
      30_000,
    );
    await sleep(1000); // time for any duplicate to show up
    t.equal(received.length, n, `all ${n} events delivered`);
    t.equal(new Set(received.map((r) => r.id)).size, received.length, 'no duplicate id');
    t.same(
      received.map((r) => r.bytes - 1000),
      Array.from({ length: n }, (_, i) => i),
      'in order, none twice',
    );
    t.equal((await link.state()).outbox.depth, 0, 'outbox empty after the PUBACKs');
  },
);

t.test('bounded outbox: past the cap the oldest are dropped, counted and reported in health', async (t) => {
  const dir = t.testdir();
  const broker = new Mosquitto({ dir: `${dir}/broker` });
  await broker.start();
  await broker.stop(); // a known port with nothing listening
  t.teardown(() => broker.stop());
  const input = {
    config: testConfig({ url: broker.url, dataDir: `${dir}/data` }),
    password: null,
    commandKey: null,
    outboxCap: 5,
    reconnect: { initialMs: 200, maxMs: 500 },
  };
  input.config.mqtt.healthIntervalSeconds = 1;
  const link = await LinkProcess.start(dir, input);
  t.teardown(() => link.kill());
  for (let i = 0; i < 8; i += 1) link.emit('archive.finished', archive(i));
  t.same((await link.state()).outbox, { depth: 5, dropped: 3 });
  await broker.start();
  const watcher = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  t.teardown(() => watcher.endAsync(true));
  await watcher.subscribeAsync(`${R}/health`);
  const health = await new Promise<{ outbox: unknown }>((resolve) =>
    watcher.on('message', (_t, p) => resolve(JSON.parse(p.toString()))),
  );
  t.match(health.outbox, { dropped: 3 });
});

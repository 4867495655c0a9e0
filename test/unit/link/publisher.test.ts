import t from 'tap';
import { buildTopics } from '../../../agent/contract/topics.js';
import { LinkPublisher } from '../../../agent/link/publisher.js';
import type { PublishOptions } from '../../../agent/link/mqttLink.js';
import { Outbox } from '../../../agent/outbox/outbox.js';
import { openStore } from '../../../agent/store/store.js';
import { EventBus } from '../../../agent/util/bus.js';
import { silentLogger } from '../../../agent/util/logger.js';
import { fakeRedact, testConfig } from '../../helpers/agentFakes.js';

function setup(dir: string, snapshot: () => Promise<object> = async () => ({ cpu: { cores: 4 } })) {
  const db = openStore(dir);
  const outbox = new Outbox({ db, log: silentLogger() });
  outbox.start();
  const published: Array<{ topic: string; payload: unknown; options: PublishOptions }> = [];
  const connectListeners: Array<() => void> = [];
  const link = {
    topics: buildTopics('edge', 'gate-01'),
    publish: async (topic: string, payload: unknown, options: PublishOptions) => (published.push({ topic, payload, options }), true),
    onConnect: (listener: () => void) => (connectListeners.push(listener), () => undefined),
  };
  const bus = new EventBus(() => new Date('2025-01-01T00:00:00Z'));
  const config = testConfig();
  config.mqtt.healthIntervalSeconds = 1;
  const publisher = new LinkPublisher({ link, outbox, bus, health: { snapshot }, config: () => config, redact: fakeRedact, log: silentLogger() });
  return { db, outbox, published, connectListeners, bus, publisher };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

t.test('every bus event goes to the outbox for R/events as {type, ...fields, ts, id}', async (t) => {
  const { db, outbox, bus, publisher } = setup(t.testdir());
  t.teardown(() => (publisher.stop(), db.close()));
  publisher.start();
  bus.emit('disk.pruned', { camera: 'cam1', file: 'f', bytes: 3, reason: 'age' });
  const [row] = outbox.peek(0, 10);
  t.equal(row?.topic, 'edge/gate-01/events');
  t.match(JSON.parse(row!.payload), { type: 'disk.pruned', camera: 'cam1', file: 'f', bytes: 3, reason: 'age', ts: '2025-01-01T00:00:00.000Z', id: String });
});

t.test('analysis results go to the outbox for R/analysis', async (t) => {
  const { db, outbox, publisher } = setup(t.testdir());
  t.teardown(() => db.close());
  publisher.publishAnalysis({ camera: 'cam1', archive: 'a', start: 's', end: 'e', model: 'm', summary: 'x', events: [], ts: 't' });
  t.equal(outbox.peek(0, 1)[0]?.topic, 'edge/gate-01/analysis');
});

t.test('on connect: retained redacted config (QoS 1) and health (QoS 0, retained) with outbox figures', async (t) => {
  const { db, published, connectListeners, publisher, outbox } = setup(t.testdir());
  t.teardown(() => (publisher.stop(), db.close()));
  publisher.start();
  outbox.enqueue('x', {});
  connectListeners.forEach((listener) => listener());
  await flush();
  const config = published.find((p) => p.topic === 'edge/gate-01/config');
  t.match(config, { options: { qos: 1, retain: true }, payload: { mqtt: { passwordFile: '[redacted]' } } });
  const health = published.find((p) => p.topic === 'edge/gate-01/health');
  t.match(health, { options: { qos: 0, retain: true }, payload: { cpu: { cores: 4 }, outbox: { depth: 1, dropped: 0 }, ts: String } });
});

t.test('config.changed republishes the config; the health timer repeats; a failing snapshot is skipped', async (t) => {
  let fail = true;
  const { db, published, bus, publisher } = setup(t.testdir(), async () => {
    if (fail) throw new Error('sensor read failed');
    return {};
  });
  t.teardown(() => (publisher.stop(), db.close()));
  publisher.start();
  bus.emit('config.changed', { keys: ['mqtt.healthIntervalSeconds'] });
  await flush();
  t.equal(published.filter((p) => p.topic.endsWith('/config')).length, 1);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  t.equal(published.filter((p) => p.topic.endsWith('/health')).length, 0, 'failed snapshot: nothing published');
  fail = false;
  await new Promise((resolve) => setTimeout(resolve, 1100));
  t.equal(published.filter((p) => p.topic.endsWith('/health')).length, 1);
});

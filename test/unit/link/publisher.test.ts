import t from 'tap';
import { buildTopics } from '../../../agent/contract/topics.js';
import { LinkPublisher } from '../../../agent/link/publisher.js';
import type { PublishOptions } from '../../../agent/link/mqttLink.js';
import { Outbox } from '../../../agent/outbox/outbox.js';
import { openStore } from '../../../agent/store/store.js';
import { EventBus } from '../../../agent/util/bus.js';
import { silentLogger } from '../../../agent/util/logger.js';
import { fakeRedact, testConfig } from '../../helpers/agentFakes.js';
import { manualClock } from '../../helpers/manualClock.js';

function setup(
  dir: string,
  snapshot: () => Promise<object> = async () => ({ cpu: { cores: 4 } }),
  extra: Partial<ConstructorParameters<typeof LinkPublisher>[0]> = {},
) {
  const db = openStore(dir);
  const outbox = new Outbox({ db, log: silentLogger() });
  outbox.start();
  const published: Array<{ topic: string; payload: unknown; options: PublishOptions }> = [];
  const connectListeners: Array<() => void> = [];
  const link = {
    topics: buildTopics('edge', 'gate-01'),
    publish: async (topic: string, payload: unknown, options: PublishOptions) => (
      published.push({ topic, payload, options }),
      true
    ),
    onConnect: (listener: () => void) => (connectListeners.push(listener), () => undefined),
  };
  const bus = new EventBus(() => new Date('2025-01-01T00:00:00Z'));
  const config = testConfig();
  config.mqtt.healthIntervalSeconds = 1;
  const publisher = new LinkPublisher({
    link,
    outbox,
    bus,
    health: { snapshot },
    config: () => config,
    redact: fakeRedact,
    log: silentLogger(),
    ...extra,
  });
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
  t.match(JSON.parse(row!.payload), {
    type: 'disk.pruned',
    camera: 'cam1',
    file: 'f',
    bytes: 3,
    reason: 'age',
    ts: '2025-01-01T00:00:00.000Z',
    id: String,
  });
});

t.test('analysis results go to the outbox for R/analysis', async (t) => {
  const { db, outbox, publisher } = setup(t.testdir());
  t.teardown(() => db.close());
  publisher.publishAnalysis({
    camera: 'cam1',
    archive: 'a',
    start: 's',
    end: 'e',
    model: 'm',
    summary: 'x',
    events: [],
    ts: 't',
  });
  t.equal(outbox.peek(0, 1)[0]?.topic, 'edge/gate-01/analysis');
});

t.test('on connect: retained redacted config (QoS 1) and health (QoS 0, retained) with outbox figures', async (t) => {
  const { db, published, connectListeners, publisher, outbox } = setup(t.testdir());
  t.teardown(() => (publisher.stop(), db.close()));
  publisher.start();
  outbox.enqueue(buildTopics('edge', 'gate-01').events, {
    type: 'config.changed',
    keys: [],
    ts: '2025-01-01T00:00:00.000Z',
  });
  connectListeners.forEach((listener) => listener());
  await flush();
  const config = published.find((p) => p.topic === 'edge/gate-01/config');
  t.match(config, { options: { qos: 1, retain: true }, payload: { mqtt: { passwordFile: '[redacted]' } } });
  const health = published.find((p) => p.topic === 'edge/gate-01/health');
  t.match(health, {
    options: { qos: 0, retain: true },
    payload: { cpu: { cores: 4 }, outbox: { depth: 1, dropped: 0 }, ts: String },
  });
});

t.test('config.changed republishes the config; the health timer repeats; a failing snapshot is skipped', async (t) => {
  let fail = true;
  const clock = manualClock();
  const { db, published, bus, publisher } = setup(
    t.testdir(),
    async () => {
      if (fail) throw new Error('sensor read failed');
      return {};
    },
    { clock },
  );
  t.teardown(() => (publisher.stop(), db.close()));
  publisher.start();
  bus.emit('config.changed', { keys: ['mqtt.healthIntervalSeconds'] });
  await flush();
  t.equal(published.filter((p) => p.topic.endsWith('/config')).length, 1);
  const health = () => published.filter((p) => p.topic.endsWith('/health')).length;
  clock.advance(999);
  await flush();
  t.equal(health(), 0, 'nothing before the 1-s interval');
  clock.advance(1);
  await flush();
  t.equal(health(), 0, 'failed snapshot: nothing published');
  fail = false;
  clock.advance(1000);
  await flush();
  t.equal(health(), 1, 'the timer repeats after a failure');
});

t.test('archive events carry the motion score when measured, and their stable id', async (t) => {
  const asked: unknown[] = [];
  const announced = { once: (_a: unknown, _id: string, announce: () => void) => (announce(), true) };
  const motionScore = (camera: string, startMs: number, endMs: number) => (
    asked.push([camera, startMs, endMs]),
    camera === 'cam1' ? 0.42 : null
  );
  const { db, outbox, bus, publisher } = setup(t.testdir(), undefined, { announced, motionScore });
  t.teardown(() => (publisher.stop(), db.close()));
  publisher.start();
  const archive = { start: '2025-01-01T00:00:00.000Z', seconds: 600, bytes: 1, clockSynced: true };
  bus.emit('archive.finished', { camera: 'cam1', file: 'cam1/2025-01-01/archive_20250101T000000Z.mp4', ...archive });
  bus.emit('archive.finished', { camera: 'cam2', file: 'cam2/2025-01-01/archive_20250101T000000Z.mp4', ...archive });
  const [one, two] = outbox.peek(0, 10).map((r) => JSON.parse(r.payload) as Record<string, unknown>);
  t.match(one, { type: 'archive.finished', camera: 'cam1', motion: 0.42, id: /^[0-9a-f]{8}-[0-9a-f]{4}-5/ });
  t.notOk('motion' in two!, 'not measured: no motion field');
  t.same(
    asked[0],
    ['cam1', Date.parse(archive.start), Date.parse(archive.start) + 600_000],
    "the archive's own interval",
  );
});

t.test('R/analysis/budget is retained QoS 1 and sent again on every connect', async (t) => {
  const { db, published, connectListeners, publisher } = setup(t.testdir());
  t.teardown(() => (publisher.stop(), db.close()));
  publisher.start();
  const budget = {
    tokensUsed: 1300,
    tokenLimit: null,
    requestsUsed: 1,
    requestLimit: 20,
    resetsAt: '2025-01-02T00:00:00.000Z',
    queued: 2,
    ts: '2025-01-01T10:00:00.000Z',
  };
  await publisher.publishBudget(budget);
  connectListeners.forEach((listener) => listener());
  await flush();
  const sent = published.filter((p) => p.topic === 'edge/gate-01/analysis/budget');
  t.equal(sent.length, 2);
  t.match(sent[1], { payload: budget, options: { qos: 1, retain: true } });
});

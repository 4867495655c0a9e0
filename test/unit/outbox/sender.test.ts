import t from 'tap';
import type { AgentEvent } from '../../../agent/contract/events.js';
import { buildTopics } from '../../../agent/contract/topics.js';
import { Outbox } from '../../../agent/outbox/outbox.js';
import { OutboxSender } from '../../../agent/outbox/sender.js';
import { openStore } from '../../../agent/store/store.js';
import { silentLogger } from '../../../agent/util/logger.js';

type Done = (error?: Error & { code?: number }) => void;

const topics = buildTopics('edge', 'a');

/** An event numbered by its `bytes`, to tell the messages sent apart. */
const pruned = (n: number): AgentEvent<'disk.pruned'> => ({
  type: 'disk.pruned',
  camera: 'cam1',
  file: `f${n}`,
  bytes: n,
  reason: 'age',
  ts: '2025-01-01T00:00:00.000Z',
});

function setup(dir: string, window = 2) {
  const db = openStore(dir);
  const outbox = new Outbox({ db, log: silentLogger() });
  outbox.start();
  const sent: Array<{ topic: string; payload: string; done: Done }> = [];
  const channel = {
    connected: true,
    isConnected: () => channel.connected,
    publish: (topic: string, payload: string, done: Done) => sent.push({ topic, payload, done }),
  };
  const sender = new OutboxSender({ outbox, channel, log: silentLogger(), window, retryMs: 10 });
  return { db, outbox, sent, channel, sender };
}

const ids = (sent: Array<{ payload: string }>) => sent.map((s) => JSON.parse(s.payload).bytes as number);

t.test('sends in order within the window and deletes only on PUBACK', async (t) => {
  const { db, outbox, sent, sender } = setup(t.testdir());
  t.teardown(() => db.close());
  sender.start();
  for (let n = 1; n <= 4; n += 1) outbox.enqueue(topics.events, pruned(n));
  t.same(ids(sent), [1, 2], 'window of 2');
  t.equal(outbox.depth(), 4);
  sent[0]!.done();
  t.same(ids(sent), [1, 2, 3]);
  t.equal(outbox.depth(), 3);
  sent[1]!.done();
  sent[2]!.done();
  sent[3]!.done();
  t.equal(outbox.depth(), 0);
  t.equal(sender.inFlightCount(), 0);
  sender.stop();
});

t.test('sends nothing while disconnected, then everything on kick', async (t) => {
  const { db, outbox, sent, sender, channel } = setup(t.testdir(), 10);
  t.teardown(() => db.close());
  channel.connected = false;
  sender.start();
  outbox.enqueue(topics.events, pruned(1));
  outbox.enqueue(topics.events, pruned(2));
  t.equal(sent.length, 0);
  channel.connected = true;
  sender.kick();
  t.same(ids(sent), [1, 2]);
  sender.stop();
});

t.test('a refused message (reason code >= 0x80) is dropped and counted; a transient failure is retried', async (t) => {
  const { db, outbox, sent, sender } = setup(t.testdir(), 1);
  t.teardown(() => db.close());
  sender.start();
  outbox.enqueue(topics.events, pruned(1));
  outbox.enqueue(topics.events, pruned(2));
  sent[0]!.done(Object.assign(new Error('Not authorized'), { code: 0x87 }));
  t.same(outbox.stats(), { depth: 1, dropped: 1 });
  t.same(ids(sent), [1, 2]);
  sent[1]!.done(new Error('Connection closed'));
  t.equal(outbox.depth(), 1);
  await new Promise((resolve) => setTimeout(resolve, 30));
  t.same(ids(sent), [1, 2, 2], 'resent after the retry delay');
  sent[2]!.done();
  t.equal(outbox.depth(), 0);
  sender.stop();
});

t.test('a new sender (agent restart) re-sends what was never acknowledged', async (t) => {
  const dir = t.testdir();
  const first = setup(dir);
  first.sender.start();
  first.outbox.enqueue(topics.events, pruned(1));
  first.outbox.enqueue(topics.events, pruned(2));
  first.sent[0]!.done();
  first.sender.stop();
  first.sent[1]!.done(); // late PUBACK after stop: ignored, the row stays
  first.db.close();
  const second = setup(dir);
  t.teardown(() => second.db.close());
  second.sender.start();
  t.same(ids(second.sent), [2]);
  second.sender.stop();
});

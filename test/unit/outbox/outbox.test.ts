import t from 'tap';
import type { AgentEvent } from '../../../agent/contract/events.js';
import { buildTopics } from '../../../agent/contract/topics.js';
import { Outbox } from '../../../agent/outbox/outbox.js';
import { openStore } from '../../../agent/store/store.js';
import { silentLogger } from '../../../agent/util/logger.js';

const topics = buildTopics('edge', 'a');
const TS = '2025-01-01T00:00:00.000Z';

/** An event numbered by its `bytes`, to tell rows apart. */
const pruned = (n: number): AgentEvent<'disk.pruned'> => ({
  type: 'disk.pruned',
  camera: 'cam1',
  file: `f${n}`,
  bytes: n,
  reason: 'age',
  ts: TS,
});

function make(dir: string, cap?: number) {
  const db = openStore(dir);
  let n = 0;
  const outbox = new Outbox({ db, log: silentLogger(), cap, newId: () => `id-${++n}` });
  outbox.start();
  return { db, outbox };
}

t.test('enqueue stores the payload with a stable id, in order', async (t) => {
  const { db, outbox } = make(t.testdir());
  t.teardown(() => db.close());
  outbox.enqueue(topics.events, { type: 'camera.found', camera: 'cam1', source: 'usb', ts: TS });
  outbox.enqueue(topics.events, { type: 'camera.lost', camera: 'cam1', source: 'usb', reason: 'gone', ts: TS });
  const rows = outbox.peek(0, 10);
  t.equal(rows.length, 2);
  t.equal(rows[0]!.topic, 'edge/a/events');
  t.same(JSON.parse(rows[0]!.payload), { type: 'camera.found', camera: 'cam1', source: 'usb', ts: TS, id: 'id-1' });
  t.equal(rows[1]!.id, 'id-2');
  t.ok(rows[0]!.seq < rows[1]!.seq);
  t.same(
    outbox.peek(rows[0]!.seq, 10).map((r) => r.id),
    ['id-2'],
  );
  t.equal(outbox.depth(), 2);
});

t.test('ack deletes; reject deletes and counts as dropped', async (t) => {
  const { db, outbox } = make(t.testdir());
  t.teardown(() => db.close());
  const a = outbox.enqueue(topics.events, pruned(1));
  const b = outbox.enqueue(topics.events, pruned(2));
  outbox.ack(a.seq);
  outbox.reject(b.seq);
  outbox.reject(b.seq);
  t.same(outbox.stats(), { depth: 0, dropped: 1 });
});

t.test('past the cap the oldest are dropped and counted', async (t) => {
  const { db, outbox } = make(t.testdir(), 3);
  t.teardown(() => db.close());
  for (let i = 0; i < 5; i += 1) outbox.enqueue(topics.events, pruned(i));
  t.same(
    outbox.peek(0, 10).map((r) => JSON.parse(r.payload).bytes),
    [2, 3, 4],
  );
  t.same(outbox.stats(), { depth: 3, dropped: 2 });
});

t.test('rows and the dropped count survive reopening the store', async (t) => {
  const dir = t.testdir();
  const first = make(dir, 1);
  first.outbox.enqueue(topics.events, pruned(1));
  first.outbox.enqueue(topics.events, pruned(2));
  first.db.close();
  const second = make(dir, 1);
  t.teardown(() => second.db.close());
  t.same(second.outbox.stats(), { depth: 1, dropped: 1 });
  t.same(JSON.parse(second.outbox.peek(0, 1)[0]!.payload).bytes, 2);
});

t.test('listeners hear every enqueue until unsubscribed', async (t) => {
  const { db, outbox } = make(t.testdir());
  t.teardown(() => db.close());
  let heard = 0;
  const off = outbox.onEnqueue(() => (heard += 1));
  outbox.enqueue(topics.events, pruned(1));
  off();
  outbox.enqueue(topics.events, pruned(2));
  t.equal(heard, 1);
});

import t from 'tap';
import { Outbox } from '../../../agent/outbox/outbox.js';
import { openStore } from '../../../agent/store/store.js';
import { silentLogger } from '../../../agent/util/logger.js';

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
  outbox.enqueue('edge/a/events', { type: 'camera.found', camera: 'cam1' });
  outbox.enqueue('edge/a/events', { type: 'camera.lost', camera: 'cam1' });
  const rows = outbox.peek(0, 10);
  t.equal(rows.length, 2);
  t.same(JSON.parse(rows[0]!.payload), { type: 'camera.found', camera: 'cam1', id: 'id-1' });
  t.equal(rows[1]!.id, 'id-2');
  t.ok(rows[0]!.seq < rows[1]!.seq);
  t.same(outbox.peek(rows[0]!.seq, 10).map((r) => r.id), ['id-2']);
  t.equal(outbox.depth(), 2);
});

t.test('ack deletes; reject deletes and counts as dropped', async (t) => {
  const { db, outbox } = make(t.testdir());
  t.teardown(() => db.close());
  const a = outbox.enqueue('x', { a: 1 });
  const b = outbox.enqueue('x', { b: 1 });
  outbox.ack(a.seq);
  outbox.reject(b.seq);
  outbox.reject(b.seq);
  t.same(outbox.stats(), { depth: 0, dropped: 1 });
});

t.test('past the cap the oldest are dropped and counted', async (t) => {
  const { db, outbox } = make(t.testdir(), 3);
  t.teardown(() => db.close());
  for (let i = 0; i < 5; i += 1) outbox.enqueue('x', { i });
  t.same(outbox.peek(0, 10).map((r) => JSON.parse(r.payload).i), [2, 3, 4]);
  t.same(outbox.stats(), { depth: 3, dropped: 2 });
});

t.test('rows and the dropped count survive reopening the store', async (t) => {
  const dir = t.testdir();
  const first = make(dir, 1);
  first.outbox.enqueue('x', { i: 1 });
  first.outbox.enqueue('x', { i: 2 });
  first.db.close();
  const second = make(dir, 1);
  t.teardown(() => second.db.close());
  t.same(second.outbox.stats(), { depth: 1, dropped: 1 });
  t.same(JSON.parse(second.outbox.peek(0, 1)[0]!.payload).i, 2);
});

t.test('listeners hear every enqueue until unsubscribed', async (t) => {
  const { db, outbox } = make(t.testdir());
  t.teardown(() => db.close());
  let heard = 0;
  const off = outbox.onEnqueue(() => (heard += 1));
  outbox.enqueue('x', {});
  off();
  outbox.enqueue('x', {});
  t.equal(heard, 1);
});

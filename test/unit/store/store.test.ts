import { existsSync } from 'node:fs';
import t from 'tap';
import { openStore, storePath } from '../../../agent/store/store.js';

t.test('openStore creates <dataDir>/agent.db in WAL mode with synchronous=FULL', async (t) => {
  const dir = t.testdir();
  const db = openStore(`${dir}/nested/data`);
  t.teardown(() => db.close());
  t.ok(existsSync(storePath(`${dir}/nested/data`)));
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(db.pragma('synchronous', { simple: true }), 2, 'FULL is 2');
});

t.test('two opens of one file see each other (tables created per owner)', async (t) => {
  const dir = t.testdir();
  const a = openStore(dir);
  const b = openStore(dir);
  t.teardown(() => {
    a.close();
    b.close();
  });
  a.exec('CREATE TABLE q (v TEXT)');
  a.prepare('INSERT INTO q VALUES (?)').run('x');
  t.same(b.prepare('SELECT v FROM q').all(), [{ v: 'x' }]);
});

import { existsSync } from 'node:fs';
import t from 'tap';
import { openStore, storePath } from '../../../agent/store/store.js';

t.test('openStore creates <dataDir>/agent.db in WAL mode with synchronous=FULL', async (t) => {
  const dir = t.testdir();
  const db = openStore(`${dir}/nested/data`);
  t.teardown(() => db.close());
  t.ok(existsSync(storePath(`${dir}/nested/data`)));
  t.equal(db.pragma('journal_mode'), 'wal');
  t.equal(db.pragma('synchronous'), 2, 'FULL is 2');
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

t.test('a transaction commits when fn returns and rolls back when it throws', async (t) => {
  const db = openStore(t.testdir());
  t.teardown(() => db.close());
  db.exec('CREATE TABLE q (v TEXT)');
  t.equal(
    db.transaction(() => (db.prepare('INSERT INTO q VALUES (?)').run('kept'), 7)),
    7,
  );
  t.throws(() =>
    db.transaction(() => {
      db.prepare('INSERT INTO q VALUES (?)').run('lost');
      db.transaction(() => db.prepare('INSERT INTO q VALUES (?)').run('nested, lost too'));
      throw new Error('boom');
    }),
  );
  t.same(db.prepare('SELECT v FROM q ORDER BY rowid').all(), [{ v: 'kept' }]);
});

t.test('the engine is node:sqlite wherever this Node has it', async (t) => {
  const db = openStore(t.testdir());
  t.teardown(() => db.close());
  const hasNodeSqlite = Boolean(process.getBuiltinModule?.('node:sqlite'));
  t.equal(db.engine, hasNodeSqlite ? 'node:sqlite' : 'better-sqlite3', `Node ${process.versions.node}`);
});

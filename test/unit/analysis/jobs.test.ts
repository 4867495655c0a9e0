import t from 'tap';
import { JobStore, utcDay } from '../../../agent/analysis/jobs.js';
import { dailyLimit } from '../../../agent/analysis/budget.js';
import { openStore } from '../../../agent/store/store.js';

t.test('jobs persist across reopening the store', async (t) => {
  const dir = t.testdir();
  const db = openStore(dir);
  const jobs = new JobStore(db);
  jobs.init();
  jobs.init(); // idempotent
  const job = jobs.insert({
    camera: 'cam1',
    file: 'cam1/2026-03-02/archive_20260302T100000Z.mp4',
    startMs: 1,
    seconds: 600,
    motion: null,
    now: 5,
  });
  t.match(job, { state: 'pending', attempts: 0, nextAt: 0, uploadName: null, countedDay: null });
  jobs.update(job.id, { uploadName: 'files/a', uploadUri: 'u', uploadExpires: 99, countedDay: '2026-03-02' }, 6);
  jobs.count('2026-03-02', { sent: 1, tokens: 1300 });
  jobs.count('2026-03-02', { tokens: 200, done: 1 });
  db.close();

  const again = new JobStore(openStore(dir));
  again.init();
  t.match(again.get(job.id), { uploadName: 'files/a', uploadExpires: 99, countedDay: '2026-03-02' });
  t.ok(again.isPending(job.file));
  t.ok(again.hasAny(job.file));
  t.equal(again.pendingCount(), 1);
  t.same(again.day('2026-03-02'), {
    day: '2026-03-02',
    sent: 1,
    done: 1,
    failed: 0,
    skipped: 0,
    tokens: 1500,
    requests: 0,
  });
  t.same(again.day('2026-03-03'), {
    day: '2026-03-03',
    sent: 0,
    done: 0,
    failed: 0,
    skipped: 0,
    tokens: 0,
    requests: 0,
  });
  again.update(job.id, { state: 'failed' }, 7);
  t.notOk(again.isPending(job.file));
  t.equal(again.failedTotal(), 1);
  again.pruneFinished(100);
  t.equal(again.get(job.id), undefined, 'finished jobs pruned');
});

t.test('utcDay and daily limits', async (t) => {
  t.equal(utcDay(Date.parse('2026-03-02T23:59:59Z')), '2026-03-02');
  t.equal(utcDay(Date.parse('2026-03-03T00:00:00Z')), '2026-03-03');
  t.equal(dailyLimit(null), null, 'unset: no limit');
  t.equal(dailyLimit(500000), 500000);
  t.equal(dailyLimit(0), null, '0 means none, as the environment variable always did');
});

t.test(
  "a job's scene and origin, and each camera's last analysed scene, survive reopening; an older database gains the columns",
  async (t) => {
    const dir = t.testdir();
    const db = openStore(dir);
    // The table as an agent from before the duplicate gate left it.
    db.exec(`CREATE TABLE analysis_jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, camera TEXT NOT NULL, file TEXT NOT NULL, start_ms INTEGER NOT NULL,
    seconds REAL, state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL DEFAULT 0,
    upload_name TEXT, upload_uri TEXT, upload_expires INTEGER, counted_day TEXT, motion TEXT, result TEXT, last_error TEXT,
    created INTEGER NOT NULL, updated INTEGER NOT NULL)`);
    db.exec(`INSERT INTO analysis_jobs (camera, file, start_ms, created, updated) VALUES ('cam1', 'old.mp4', 0, 1, 1)`);
    const jobs = new JobStore(db);
    jobs.init();
    t.match(jobs.get(1), { file: 'old.mp4', scene: null, requested: 0 }, 'an old job: no scene, not requested');
    const asked = jobs.insert({
      camera: 'cam1',
      file: 'a.mp4',
      startMs: 1,
      seconds: 4,
      motion: null,
      requested: true,
      now: 2,
    });
    t.equal(asked.requested, 1);
    jobs.update(asked.id, { scene: 'ab'.repeat(32) }, 3);
    t.equal(jobs.lastScene('cam1'), null, 'no clip analysed yet');
    jobs.setLastScene('cam1', 'ab'.repeat(32), 'a.mp4', 4);
    jobs.setLastScene('cam1', 'cd'.repeat(32), 'b.mp4', 5);
    jobs.setLastScene('cam2', 'ef'.repeat(32), 'c.mp4', 5);
    db.close();

    const again = new JobStore(openStore(dir));
    again.init();
    t.equal(again.get(asked.id)?.scene, 'ab'.repeat(32));
    t.same(
      again.lastScene('cam1'),
      { signature: 'cd'.repeat(32), file: 'b.mp4' },
      'the latest replaces the one before',
    );
    t.same(again.lastScene('cam2'), { signature: 'ef'.repeat(32), file: 'c.mp4' }, 'one per camera');
  },
);

/**
 * kill -9 of the process running the analysis queue after the upload: the next start resumes
 * the job with the stored upload (no second upload), publishes the result once, deletes the file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { openStore } from '../../agent/store/store.js';
import { FakeGemini } from '../helpers/fakeGemini.js';
import { ANALYSIS_TOPIC, analysisConfig, makeArchive } from './analysisHarness.js';
import { waitFor } from '../helpers/waitFor.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'analysis-child.ts');

function startChild(dir: string, baseUrl: string, event?: unknown): ChildProcess {
  const args = ['--import', 'tsx', CHILD, dir, baseUrl, ...(event ? [JSON.stringify(event)] : [])];
  return spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
}

function exited(child: ChildProcess): Promise<unknown> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', resolve));
}

t.test('kill -9 after the upload: resumed without a second upload, published once', async (t) => {
  const fake = await new FakeGemini({ processingPolls: 1_000_000 }).start();
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const config = analysisConfig(dir, fake.url);
  const event = await makeArchive(config.archive.dir, 'cam1', Date.parse('2026-03-02T10:00:00Z'), { seconds: 4 });

  const first = startChild(dir, fake.url, event);
  t.teardown(() => first.kill('SIGKILL'));
  // The first files.get comes after the upload was stored: kill it while the file "processes".
  await waitFor('the first poll after the upload', () => fake.counts.gets >= 1, 30_000);
  first.kill('SIGKILL');
  await exited(first);
  t.equal(fake.counts.uploads, 1);
  t.equal(fake.counts.generates, 0, 'killed before the model was asked');

  fake.processingPolls = 0;
  const second = startChild(dir, fake.url);
  t.teardown(() => second.kill('SIGKILL'));
  const db = openStore(config.dataDir);
  t.teardown(() => db.close());
  const rows = () =>
    db.prepare('SELECT payload FROM outbox WHERE topic = ?').all(ANALYSIS_TOPIC) as Array<{ payload: string }>;
  await waitFor('the result in the outbox', () => rows().length >= 1, 30_000);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(rows().length, 1, 'published exactly once');
  t.match(JSON.parse(rows()[0]!.payload), { archive: event.file, summary: String });
  t.equal(fake.counts.uploads, 1, 'no second upload: the stored one was reused');
  t.equal(fake.counts.generates, 1);
  await waitFor('upload deleted', () => fake.counts.deletes === 1);
  t.same(fake.liveFiles(), []);
  const job = db.prepare('SELECT state, upload_name AS uploadName FROM analysis_jobs').get() as {
    state: string;
    uploadName: string | null;
  };
  t.same(job, { state: 'done', uploadName: null });
  t.same(readdirSync(path.join(config.dataDir, 'analysis-tmp')), [], 'no proxy left behind');
  second.kill('SIGTERM');
  await exited(second);
});

t.test('kill -9 during the upload: the job starts over, is counted once and ends once', async (t) => {
  const fake = await new FakeGemini().start();
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const config = analysisConfig(dir, fake.url);
  const event = await makeArchive(config.archive.dir, 'cam1', Date.parse('2026-03-02T10:10:00Z'), { seconds: 4 });
  const first = startChild(dir, fake.url, event);
  t.teardown(() => first.kill('SIGKILL'));
  // Hang the upload start: the child dies with nothing uploaded.
  fake.uploadFaults.push({ kind: 'hang' });
  await waitFor('the upload start', () => fake.counts.uploadStarts >= 1, 30_000);
  first.kill('SIGKILL');
  await exited(first);
  const second = startChild(dir, fake.url);
  t.teardown(() => second.kill('SIGKILL'));
  const db = openStore(config.dataDir);
  t.teardown(() => db.close());
  await waitFor(
    'the result',
    () => (db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE topic = ?').get(ANALYSIS_TOPIC) as { n: number }).n === 1,
    30_000,
  );
  t.equal(fake.counts.uploads, 1);
  t.match(db.prepare('SELECT value FROM outbox_meta').get(), { value: 0 });
  const day = db.prepare('SELECT sent, done FROM analysis_days').get();
  t.same(day, { sent: 1, done: 1 }, 'counted once against the daily cap');
  second.kill('SIGTERM');
  await exited(second);
});

/**
 * The analysis queue end to end against real FFmpeg archives, real SQLite and the fake Gemini
 * server: results published once, retries, failures, cap, skipped still archives.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { MotionMeters } from '../../agent/analysis/motion.js';
import { analysisPathFor } from '../../agent/archive/catalog.js';
import { FakeGemini } from '../helpers/fakeGemini.js';
import { makeArchive, makeRig } from './analysisHarness.js';
import { waitFor } from '../helpers/waitFor.js';

const T0 = Date.parse('2026-03-02T10:00:00Z');

t.test('each finished archive is analysed and published exactly once; uploads deleted', async (t) => {
  const fake = await new FakeGemini().start();
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const rig = makeRig(dir, fake.url);
  t.teardown(rig.close);
  await rig.queue.start();
  const a = await makeArchive(rig.config.archive.dir, 'cam1', T0);
  const b = await makeArchive(rig.config.archive.dir, 'cam1', T0 + 600_000);
  rig.bus.emit('archive.finished', a);
  rig.bus.emit('archive.finished', b);
  rig.bus.emit('archive.finished', a); // announced twice: still one job
  t.ok(rig.queue.isPending(a.file), 'pending while queued (retention deletes it last)');
  await waitFor('two results', () => rig.published().length === 2 && rig.queue.stats().queued === 0);
  await new Promise((r) => setTimeout(r, 200));
  const results = rig.published();
  t.same(results.map((r) => r.archive).sort(), [a.file, b.file], 'one result per archive');
  const first = results.find((r) => r.archive === a.file)!;
  t.equal(first.camera, 'cam1');
  t.equal(first.start, '2026-03-02T10:00:00.000Z');
  t.equal(first.end, '2026-03-02T10:00:03.000Z');
  t.equal(first.model, 'gemini-2.5-flash');
  t.same(
    first.events[0],
    {
      start: '2026-03-02T10:00:01.000Z',
      end: '2026-03-02T10:00:03.000Z',
      label: 'person',
      description: 'A person crosses the yard from left to right.',
      severity: 'info',
    },
    'clip offsets turned into ISO times',
  );
  t.same(first.usage, {
    promptTokenCount: 1200,
    candidatesTokenCount: 80,
    thoughtsTokenCount: 20,
    totalTokenCount: 1300,
  });
  const local = path.join(rig.config.archive.dir, a.file);
  t.ok(existsSync(analysisPathFor(local)), 'result kept beside the archive');
  const { id, ...withoutId } = first as typeof first & { id: string };
  t.type(id, 'string', 'the outbox gave it an id consumers dedupe on');
  t.same(JSON.parse(readFileSync(analysisPathFor(local), 'utf8')), withoutId);
  t.notOk(rig.queue.isPending(a.file));
  t.same(fake.counts.uploads, 2);
  t.same(fake.counts.deletes, 2, 'every upload deleted');
  t.same(fake.liveFiles(), []);
  t.same(fake.problems, [], 'the fake saw a real MP4 of the announced size, the key and the schema');
  const generated = fake.lastGenerate as { generationConfig: { mediaResolution?: string } };
  t.equal(generated.generationConfig.mediaResolution, 'MEDIA_RESOLUTION_LOW');
  const stats = rig.queue.stats();
  t.match(stats, { running: true, queued: 0, doneToday: 2, sentToday: 2, tokensToday: 2600, failures: 0, held: null });
});

t.test('429 with RetryInfo is honoured, a 500 and a hung call are retried, then it succeeds', async (t) => {
  const fake = await new FakeGemini().start();
  t.teardown(() => fake.close());
  const rig = makeRig(t.testdir(), fake.url, { timeoutMs: 800 });
  t.teardown(rig.close);
  fake.generateFaults.push(
    { kind: 'status', status: 429, retryDelay: '1.2s' },
    { kind: 'status', status: 500 },
    { kind: 'hang' },
  );
  await rig.queue.start();
  const a = await makeArchive(rig.config.archive.dir, 'cam1', T0);
  rig.bus.emit('archive.finished', a);
  await waitFor('the result', () => rig.published().length === 1, 30_000);
  const calls = fake.seen.filter((s) => s.path.endsWith(':generateContent')).map((s) => s.at);
  t.equal(calls.length, 4, '429, 500, hang, success');
  t.ok(calls[1]! - calls[0]! >= 1200, `waited the API's retryDelay (${calls[1]! - calls[0]!} ms)`);
  t.equal(fake.counts.uploads, 1, 'retries reuse the upload');
  t.equal(fake.counts.deletes, 1);
  t.notOk(rig.events.some((e) => e.type === 'analysis.failed'));
});

t.test('a malformed answer is asked again once; twice malformed becomes analysis.failed', async (t) => {
  const fake = await new FakeGemini().start();
  t.teardown(() => fake.close());
  const rig = makeRig(t.testdir(), fake.url);
  t.teardown(rig.close);
  await rig.queue.start();
  fake.generateFaults.push({ kind: 'malformed' });
  const a = await makeArchive(rig.config.archive.dir, 'cam1', T0);
  rig.bus.emit('archive.finished', a);
  await waitFor('first result', () => rig.published().length === 1);
  t.equal(fake.counts.generates, 2, 'asked again once');

  fake.generateFaults.push({ kind: 'malformed' }, { kind: 'malformed' });
  const b = await makeArchive(rig.config.archive.dir, 'cam1', T0 + 600_000);
  rig.bus.emit('archive.finished', b);
  const failed = await waitFor('analysis.failed', () => rig.events.find((e) => e.type === 'analysis.failed'));
  t.match(failed, { camera: 'cam1', archive: b.file, reason: /not JSON/ });
  await waitFor('upload deleted', () => fake.counts.deletes === 2);
  t.equal(fake.counts.generates, 4);
  t.equal(rig.published().length, 1, 'nothing published for the failed one');
  t.notOk(existsSync(analysisPathFor(path.join(rig.config.archive.dir, b.file))));
  t.match(rig.queue.stats(), { failedToday: 1, failures: 1, queued: 0 });
});

t.test('a FAILED file and a rejected key are permanent: analysis.failed, no retry, upload deleted', async (t) => {
  const fake = await new FakeGemini().start();
  t.teardown(() => fake.close());
  const rig = makeRig(t.testdir(), fake.url);
  t.teardown(rig.close);
  await rig.queue.start();
  fake.failNextFiles = 1;
  const a = await makeArchive(rig.config.archive.dir, 'cam1', T0);
  rig.bus.emit('archive.finished', a);
  const failed = await waitFor('analysis.failed', () => rig.events.find((e) => e.type === 'analysis.failed'));
  t.match(failed, { archive: a.file, reason: /could not process the video/ });
  t.equal(fake.counts.generates, 0);
  t.equal(fake.counts.deletes, 1, 'the FAILED upload is deleted too');

  const seenBefore = fake.seen.length;
  const rig2 = makeRig(t.testdir(), fake.url, { apiKey: 'wrong-key' });
  t.teardown(rig2.close);
  await rig2.queue.start();
  const b = await makeArchive(rig2.config.archive.dir, 'cam1', T0);
  rig2.bus.emit('archive.finished', b);
  const refused = await waitFor('analysis.failed', () => rig2.events.find((e) => e.type === 'analysis.failed'));
  t.match(refused, { reason: /HTTP 400 .*API key not valid/ });
  await new Promise((r) => setTimeout(r, 300));
  t.same(
    fake.seen.slice(seenBefore).map((s) => s.path),
    ['/upload/v1beta/files'],
    'one upload start refused, no second try for a 4xx',
  );
});

t.test('the daily cap holds across a restart and lifts on the next UTC day', async (t) => {
  const fake = await new FakeGemini().start();
  t.teardown(() => fake.close());
  const dir = t.testdir();
  let now = Date.parse('2026-03-02T23:00:00Z');
  const clock = {
    now: () => now,
    setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
    clearTimeout: (h: NodeJS.Timeout) => clearTimeout(h),
  };
  const rig = makeRig(dir, fake.url, { analysis: { maxPerDay: 2 }, clock });
  await rig.queue.start();
  const archives = [];
  for (let i = 0; i < 3; i++) archives.push(await makeArchive(rig.config.archive.dir, 'cam1', T0 + i * 600_000));
  for (const a of archives) rig.bus.emit('archive.finished', a);
  await waitFor('two results', () => rig.published().length === 2);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(rig.published().length, 2, 'the third waits');
  t.match(rig.queue.stats(), { sentToday: 2, queued: 1, held: 'cap' });
  t.ok(rig.queue.isPending(archives[2]!.file));
  await rig.close();

  const again = makeRig(dir, fake.url, { analysis: { maxPerDay: 2 }, clock });
  await again.queue.start();
  await new Promise((r) => setTimeout(r, 300));
  t.equal(fake.counts.uploads, 2, 'still capped after a restart (the count is stored)');
  await again.close();

  now = Date.parse('2026-03-03T00:00:05Z');
  const nextDay = makeRig(dir, fake.url, { analysis: { maxPerDay: 2 }, clock });
  t.teardown(nextDay.close);
  await nextDay.queue.start();
  await waitFor('third result', () => nextDay.published().length === 3);
  t.match(nextDay.queue.stats(), { sentToday: 1, doneToday: 1, held: null });
});

t.test('daily token budget holds new jobs once spent', async (t) => {
  const fake = await new FakeGemini().start();
  t.teardown(() => fake.close());
  const rig = makeRig(t.testdir(), fake.url, { deps: { dailyTokenBudget: 1000 } });
  t.teardown(rig.close);
  await rig.queue.start();
  const a = await makeArchive(rig.config.archive.dir, 'cam1', T0);
  const b = await makeArchive(rig.config.archive.dir, 'cam1', T0 + 600_000);
  rig.bus.emit('archive.finished', a);
  await waitFor('first result', () => rig.published().length === 1);
  rig.bus.emit('archive.finished', b);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(fake.counts.uploads, 1);
  t.match(rig.queue.stats(), { tokensToday: 1300, tokenBudget: 1000, held: 'budget', queued: 1 });
});

/** Feeds `seconds` of frames into a meter, one fake-clock second per `fps` frames. */
function feed(
  stream: PassThrough,
  clock: { now: () => number },
  setNow: (ms: number) => void,
  fromMs: number,
  seconds: number,
  moving: boolean,
) {
  const frame = Buffer.alloc(160 * 120, 128);
  for (let i = 0; i < seconds * 4; i++) {
    setNow(fromMs + i * 250);
    if (moving) frame.fill(i % 2 ? 40 : 200, 0, 160 * 40);
    stream.write(Buffer.from(frame));
  }
  void clock;
}

t.test('skipWhenStill: a still archive is skipped with an event, a moving one is sent with its timeline', async (t) => {
  const fake = await new FakeGemini().start();
  t.teardown(() => fake.close());
  let now = T0;
  const clock = {
    now: () => now,
    setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
    clearTimeout: (h: NodeJS.Timeout) => clearTimeout(h),
  };
  const meters = new MotionMeters({ clock });
  const rig = makeRig(t.testdir(), fake.url, { analysis: { skipWhenStill: true }, motion: meters });
  t.teardown(rig.close);
  await rig.queue.start();
  const still = new PassThrough();
  const moving = new PassThrough();
  meters.forCamera({ id: 'still', width: 160, height: 120 }).attach(still);
  meters.forCamera({ id: 'cam1', width: 160, height: 120 }).attach(moving);
  const setNow = (ms: number) => (now = ms);
  feed(still, clock, setNow, T0, 3, false);
  feed(moving, clock, setNow, T0, 3, true);
  const a = await makeArchive(rig.config.archive.dir, 'still', T0, { moving: false });
  const b = await makeArchive(rig.config.archive.dir, 'cam1', T0);
  rig.bus.emit('archive.finished', a);
  rig.bus.emit('archive.finished', b);
  const skipped = rig.events.find((e) => e.type === 'analysis.skipped');
  t.match(skipped, { camera: 'still', archive: a.file, reason: /no motion/ });
  t.notOk(rig.queue.isPending(a.file));
  await waitFor('result', () => rig.published().length === 1);
  const [result] = rig.published();
  t.equal(result!.archive, b.file);
  t.match(result!.motion, { activeSeconds: 3, threshold: 0.01, perSecond: [Number, Number, Number] });
  t.ok((result!.motion as { max: number }).max > 0.2);
  const prompt = JSON.stringify(fake.lastGenerate);
  t.match(prompt, /motion meter saw movement at: 00:00-00:03/, 'the timeline goes to the model as a hint');
  t.equal(fake.counts.uploads, 1, 'the still archive was never uploaded');
  t.match(rig.queue.stats(), { skippedToday: 1, doneToday: 1 });
});

t.test('analyze command path: unknown archive refused, known one queued and analysed', async (t) => {
  const fake = await new FakeGemini().start();
  t.teardown(() => fake.close());
  const rig = makeRig(t.testdir(), fake.url);
  t.teardown(rig.close);
  await t.rejects(
    rig.queue.enqueue('cam1', 'cam1/2026-03-02/archive_20260302T100000Z.mp4'),
    { code: 'bad_request' },
    'not running yet',
  );
  await rig.queue.start();
  await t.rejects(rig.queue.enqueue('cam1', 'cam1/2026-03-02/archive_20260302T100000Z.mp4'), { code: 'not_found' });
  const a = await makeArchive(rig.config.archive.dir, 'cam1', T0, { seconds: 2 });
  await rig.queue.enqueue('cam1', a.file);
  await waitFor('result', () => rig.published().length === 1);
  t.match(rig.published()[0], { archive: a.file, start: '2026-03-02T10:00:00.000Z', end: '2026-03-02T10:00:02.000Z' });
});

t.test('no API key: the queue stays off', async (t) => {
  const rig = makeRig(t.testdir(), 'http://127.0.0.1:1', { deps: { model: null } });
  t.teardown(rig.close);
  await rig.queue.start();
  t.equal(rig.queue.isRunning, false);
  t.equal(rig.queue.isPending('cam1/2026-03-02/archive_20260302T100000Z.mp4'), false, 'isPending works anyway');
  t.match(rig.queue.stats(), { running: false, queued: 0 });
});

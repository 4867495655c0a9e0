/**
 * Analysis never holds anything up: with the (fake) Gemini API unreachable, rate-limited or out
 * of budget, a job that has no result after deferAfterMinutes sends `analysis.deferred` once,
 * keeps its tries, and its result still follows (with the archive event's id) when the API is back,
 * across a restart of the queue too.
 */
import t from 'tap';
import type { AgentEvent } from '../../agent/contract/events.js';
import { archiveEventId } from '../../agent/contract/ids.js';
import type { AnalysisBudgetMessage } from '../../agent/contract/messages.js';
import { FakeGemini } from '../helpers/fakeGemini.js';
import { makeArchive, makeRig } from './analysisHarness.js';
import { waitFor } from '../helpers/waitFor.js';

const T0 = Date.parse('2026-03-02T10:00:00Z');
const idOf = (file: string) => archiveEventId('test-device', file);
const deferred = (events: AgentEvent[]) =>
  events.filter((e): e is AgentEvent<'analysis.deferred'> => e.type === 'analysis.deferred');

t.test(
  'outage: deferred once with reason offline, tries never used up, the result follows with the event id',
  async (t) => {
    const fake = await new FakeGemini().start();
    t.teardown(() => fake.close());
    fake.down = true;
    // Long enough for the first try (a proxy encode on a busy machine, then the refused upload) to fail.
    const rig = makeRig(t.testdir(), fake.url, { deps: { deferAfterMs: 4000 } });
    t.teardown(rig.close);
    await rig.queue.start();
    const a = await makeArchive(rig.config.archive.dir, 'cam1', T0);
    rig.bus.emit('archive.finished', a);
    const event = await waitFor('analysis.deferred', () => deferred(rig.events)[0]);
    t.match(event, { camera: 'cam1', archive: a.file, eventId: idOf(a.file), reason: 'offline' });
    t.ok(Date.now() - Date.parse(a.ts) >= 3900, 'not before deferAfter');
    // The rig allows 5 tries; an outage must outlast them without analysis.failed.
    await waitFor('seven refused connections', () => fake.seen.filter((s) => s.path === 'down').length >= 7, 30_000);
    t.notOk(
      rig.events.some((e) => e.type === 'analysis.failed'),
      'an outage never fails the job',
    );
    // Between two tries the queue is held 'offline'; during one it is not: only the totals are checked here.
    t.match(rig.queue.stats(), { queued: 1, failures: 0, failedToday: 0 });
    fake.down = false;
    const result = await waitFor('the late result', () => rig.published()[0], 30_000);
    t.match(result, { archive: a.file, eventId: idOf(a.file), summary: /person/ });
    t.equal(deferred(rig.events).length, 1, 'deferred once');
    t.equal(fake.counts.uploads, 1);
  },
);

t.test('a 429 storm only delays: deferred with reason quota, no failure, one upload', async (t) => {
  const fake = await new FakeGemini().start();
  t.teardown(() => fake.close());
  // The storm (20 × 0.25 s and more) outlasts the deadline, which outlasts a first try's proxy encode on a
  // busy machine (until the first 429 the job reads 'offline': its first try is still running).
  const rig = makeRig(t.testdir(), fake.url, { deps: { deferAfterMs: 4000 } });
  t.teardown(rig.close);
  for (let i = 0; i < 20; i++) fake.generateFaults.push({ kind: 'status', status: 429, retryDelay: '0.25s' });
  await rig.queue.start();
  const a = await makeArchive(rig.config.archive.dir, 'cam1', T0);
  rig.bus.emit('archive.finished', a);
  const event = await waitFor('analysis.deferred', () => deferred(rig.events)[0], 30_000);
  t.match(event, { archive: a.file, eventId: idOf(a.file), reason: 'quota' });
  const result = await waitFor('the result', () => rig.published()[0], 60_000);
  t.equal(result.eventId, idOf(a.file));
  t.equal(fake.counts.generates, 21, 'twenty 429s (far more than the 5 tries a job has), then the answer');
  t.equal(fake.counts.uploads, 1);
  t.notOk(rig.events.some((e) => e.type === 'analysis.failed'));
});

t.test('a restart in the middle of the queue: every result once, with its id; deferred not sent again', async (t) => {
  const fake = await new FakeGemini().start();
  t.teardown(() => fake.close());
  fake.down = true;
  const dir = t.testdir();
  const first = makeRig(dir, fake.url, { deps: { deferAfterMs: 800 } });
  await first.queue.start();
  const archives = [];
  for (let i = 0; i < 3; i++) archives.push(await makeArchive(first.config.archive.dir, 'cam1', T0 + i * 600_000));
  for (const a of archives) first.bus.emit('archive.finished', a);
  await waitFor('three deferred', () => deferred(first.events).length === 3, 30_000);
  t.same(
    deferred(first.events)
      .map((e) => e.eventId)
      .sort(),
    archives.map((a) => idOf(a.file)).sort(),
  );
  await first.close();

  fake.down = false;
  const second = makeRig(dir, fake.url, { deps: { deferAfterMs: 800 } });
  t.teardown(second.close);
  await second.queue.start();
  await waitFor('three results', () => second.published().length === 3, 60_000);
  await new Promise((r) => setTimeout(r, 1000));
  const results = second.published();
  t.same(results.map((r) => r.archive).sort(), archives.map((a) => a.file).sort(), 'each archive once');
  for (const r of results) t.equal(r.eventId, idOf(r.archive), `${r.archive} carries its event id`);
  t.same(deferred(second.events), [], 'deferred is stored with the job: not sent again after the restart');
  t.match(second.queue.stats(), { queued: 0, deferredTotal: 3 });
});

t.test('over the request budget: deferred with reason budget; R/analysis/budget after each request', async (t) => {
  const fake = await new FakeGemini().start();
  t.teardown(() => fake.close());
  const budgets: AnalysisBudgetMessage[] = [];
  const rig = makeRig(t.testdir(), fake.url, {
    analysis: { dailyRequests: 1, dailyTokens: 1_000_000 },
    deps: { deferAfterMs: 800, publishBudget: (b) => void budgets.push(b) },
  });
  t.teardown(rig.close);
  await rig.queue.start();
  t.match(budgets.at(-1), {
    tokensUsed: 0,
    tokenLimit: 1_000_000,
    requestsUsed: 0,
    requestLimit: 1,
    queued: 0,
    resetsAt: /T00:00:00\.000Z$/,
    ts: String,
  });
  const a = await makeArchive(rig.config.archive.dir, 'cam1', T0);
  const b = await makeArchive(rig.config.archive.dir, 'cam1', T0 + 600_000);
  rig.bus.emit('archive.finished', a);
  await waitFor('first result', () => rig.published().length === 1);
  rig.bus.emit('archive.finished', b);
  // The first archive may be deferred too (its first try outlasting 800 ms on a busy machine).
  const event = await waitFor('analysis.deferred of the second archive', () =>
    deferred(rig.events).find((e) => e.archive === b.file),
  );
  t.match(event, { archive: b.file, reason: 'budget' });
  t.match(
    budgets.find((m) => m.requestsUsed === 1),
    { tokensUsed: 1300, requestLimit: 1 },
    'published after the request',
  );
  t.match(budgets.at(-1), { requestsUsed: 1, queued: 1 });
  t.equal(fake.counts.uploads, 1, 'the second waits for the next day, never dropped');
  t.match(rig.queue.stats(), { held: 'budget', queued: 1, requestsToday: 1, requestBudget: 1 });
  t.ok(rig.queue.isPending(b.file));
});

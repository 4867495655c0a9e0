/**
 * The daily budget holds work without dropping it: queued archives wait for the next UTC day and
 * then go by motion score, then age; an archive retention removes while it waits is skipped with
 * reason `retention` (at once, or when its turn finds it gone after a restart).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import type { MotionSample } from '../../agent/analysis/motion.js';
import type { AgentEvent } from '../../agent/contract/events.js';
import { FakeGemini } from '../helpers/fakeGemini.js';
import { makeArchive, makeRig } from './analysisHarness.js';
import { waitFor } from '../helpers/waitFor.js';

const T0 = Date.parse('2026-03-02T10:00:00Z');
const skipped = (events: AgentEvent[]) =>
  events.filter((e): e is AgentEvent<'analysis.skipped'> => e.type === 'analysis.skipped');

/** A clock whose day the test chooses; timers are real. */
function dayClock(iso: string) {
  const clock = {
    at: Date.parse(iso),
    now: () => clock.at,
    setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
    clearTimeout: (h: NodeJS.Timeout) => clearTimeout(h),
  };
  return clock;
}

/** Motion meters that saw a fixed score all through each archive (by its start). */
function fixedMotion(scores: Map<number, number>) {
  return {
    timelineFor(_camera: string, startMs: number, endMs: number): MotionSample[] {
      const score = scores.get(startMs) ?? null;
      return Array.from({ length: Math.ceil((endMs - startMs) / 1000) }, (_, t) => ({ t, score }));
    },
  };
}

t.test('over budget nothing is dropped; the next day the queue goes by motion score, then age', async (t) => {
  const fake = await new FakeGemini().start();
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const clock = dayClock('2026-03-02T23:00:00Z');
  const scores = new Map([
    [T0, 0.5],
    [T0 + 600_000, 0.02],
    [T0 + 1_200_000, 0.9],
    [T0 + 1_800_000, 0.3],
    [T0 + 2_400_000, 0.9],
  ]);
  const options = { clock, motion: fixedMotion(scores), analysis: { dailyRequests: 1 } };
  const rig = makeRig(dir, fake.url, options);
  await rig.queue.start();
  const archives = [];
  for (const start of scores.keys()) archives.push(await makeArchive(rig.config.archive.dir, 'cam1', start));
  rig.bus.emit('archive.finished', archives[0]!);
  await waitFor('the first result', () => rig.published().length === 1);
  for (const a of archives.slice(1)) rig.bus.emit('archive.finished', a);
  await new Promise((r) => setTimeout(r, 500));
  t.equal(rig.published().length, 1, 'the rest wait: the day allows one request');
  t.match(rig.queue.stats(), { held: 'budget', queued: 4 });
  t.same(skipped(rig.events), [], 'nothing dropped');
  await rig.close();

  clock.at = Date.parse('2026-03-03T00:00:05Z');
  const next = makeRig(dir, fake.url, { ...options, analysis: { dailyRequests: 10 } });
  t.teardown(next.close);
  await next.queue.start();
  await waitFor('all results', () => next.published().length === 5, 60_000);
  const order = next
    .published()
    .slice(1)
    .map((r) => scores.get(Date.parse(r.start)));
  t.same(order, [0.9, 0.9, 0.3, 0.02], 'largest motion first; of two equal, the older first');
  t.equal(Date.parse(next.published()[1]!.start), T0 + 1_200_000, 'the older 0.9 first');
});

t.test(
  'retention removes a waiting archive: analysis.skipped with reason retention, at once or at its turn',
  async (t) => {
    const fake = await new FakeGemini().start();
    t.teardown(() => fake.close());
    const dir = t.testdir();
    const rig = makeRig(dir, fake.url, { analysis: { maxPerDay: 0 } });
    await rig.queue.start();
    const a = await makeArchive(rig.config.archive.dir, 'cam1', T0);
    const b = await makeArchive(rig.config.archive.dir, 'cam1', T0 + 600_000);
    rig.bus.emit('archive.finished', a);
    rig.bus.emit('archive.finished', b);
    t.match(rig.queue.stats(), { held: 'cap', queued: 2 });
    await rm(path.join(rig.config.archive.dir, a.file));
    rig.bus.emit('disk.pruned', { camera: 'cam1', file: a.file, bytes: a.bytes, reason: 'age' });
    const event = await waitFor('analysis.skipped', () => skipped(rig.events)[0]);
    t.same(
      { ...event, ts: undefined },
      { type: 'analysis.skipped', camera: 'cam1', archive: a.file, reason: 'retention', ts: undefined },
    );
    t.notOk(rig.queue.isPending(a.file));
    t.match(rig.queue.stats(), { queued: 1 });
    await rig.close();

    // b is removed while the agent is down (no disk.pruned reaches the queue): its turn finds it gone.
    await rm(path.join(rig.config.archive.dir, b.file));
    const again = makeRig(dir, fake.url);
    t.teardown(again.close);
    await again.queue.start();
    const gone = await waitFor('analysis.skipped', () => skipped(again.events)[0]);
    t.match(gone, { archive: b.file, reason: 'retention' });
    t.notOk(
      again.events.some((e) => e.type === 'analysis.failed'),
      'skipped, not failed',
    );
    t.equal(fake.counts.uploads, 0);
    t.match(again.queue.stats(), { queued: 0, failures: 0 });
  },
);

/**
 * The cost levers (issue 18, item 3) through the real queue, proxy, scene signature and Gemini
 * client against the fake API: each request carries the camera's videoMetadata.fps and media
 * resolution and its proxy holds exactly those frames at the matching size; a still clip whose
 * scene matches the last analysed clip of its camera is skipped (`analysis.skipped`, reason
 * `duplicate`), a moving one never is, another scene is analysed, and the reference survives a
 * restart.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import type { MotionSample } from '../../agent/analysis/motion.js';
import type { AgentEvent } from '../../agent/contract/events.js';
import { FakeGemini } from '../helpers/fakeGemini.js';
import { makeArchive, makeRig } from './analysisHarness.js';
import { waitFor } from '../helpers/waitFor.js';

const run = promisify(execFile);
const T0 = Date.parse('2026-03-02T10:00:00Z');
const skipped = (events: AgentEvent[]) =>
  events.filter((e): e is AgentEvent<'analysis.skipped'> => e.type === 'analysis.skipped');

/** Motion meters that saw one fixed score and changed fraction all through each archive (by camera). */
function fixedMotion(seen: Record<string, { score: number; changed: number }>) {
  return {
    timelineFor(camera: string, startMs: number, endMs: number): MotionSample[] {
      return Array.from({ length: Math.ceil((endMs - startMs) / 1000) }, (_, t) => ({
        t,
        score: seen[camera]?.score ?? null,
      }));
    },
    peakChange: (camera: string) => seen[camera]?.changed ?? null,
  };
}

/** Frames and width of an uploaded proxy, read back from the bytes the fake received. */
async function proxyShape(fake: FakeGemini, camera: string, dir: string): Promise<{ frames: number; width: number }> {
  const file = [...fake.files.values()].find((f) => f.displayName.startsWith(`${camera} `))!;
  const copy = path.join(dir, `${camera}.proxy.mp4`);
  await writeFile(copy, Buffer.concat(file.received));
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=nb_frames,width',
    '-of',
    'json',
    copy,
  ]);
  const stream = (JSON.parse(stdout) as { streams: Array<{ nb_frames: string; width: number }> }).streams[0]!;
  return { frames: Number(stream.nb_frames), width: stream.width };
}

t.test(
  "each request carries the camera's fps and media resolution; the proxy holds those frames at the matching width",
  async (t) => {
    const fake = await new FakeGemini({ usage: 'counted' }).start();
    t.teardown(() => fake.close());
    const dir = t.testdir();
    const rig = makeRig(dir, fake.url, { analysis: { fps: 0.25, resolution: 'low' } });
    t.teardown(rig.close);
    rig.config.cameras.push({
      id: 'gate',
      source: 'test',
      width: 960,
      height: 540,
      fps: 10,
      analysis: { fps: 1, resolution: 'medium' },
    });
    await rig.queue.start();
    for (const camera of ['cam1', 'gate']) {
      rig.bus.emit(
        'archive.finished',
        await makeArchive(rig.config.archive.dir, camera, T0, { seconds: 8, size: '960x540' }),
      );
    }
    await waitFor('both results', () => rig.published().length === 2, 60_000);
    const call = (camera: string) => fake.generateCalls.find((c) => c.displayName.startsWith(`${camera} `))!;
    t.match(call('cam1'), { fps: 0.25, mediaResolution: 'MEDIA_RESOLUTION_LOW' }, 'the global levers');
    t.match(call('gate'), { fps: 1, mediaResolution: 'MEDIA_RESOLUTION_MEDIUM' }, "the camera's own");
    t.same(await proxyShape(fake, 'cam1', dir), { frames: 2, width: 480 }, '8 s at 0.25 fps, low: 480 px');
    const gate = await proxyShape(fake, 'gate', dir);
    t.equal(gate.width, 768, 'medium: 768 px');
    // FFmpeg's fps filter drops the last keyframe of the file here: 7 frames, a 7-s proxy.
    t.ok(gate.frames === 7 || gate.frames === 8, `8 s at 1 fps: ${gate.frames} frames`);
    // Counted by the fake as Google documents it: sampled frames × the resolution's rate, plus the text.
    const text = call('cam1').promptTokenCount - 2 * 66;
    t.ok(
      text > 0 && text < 1500,
      `cam1: ${call('cam1').promptTokenCount} prompt tokens = 2 frames × 66 + ${text} of text`,
    );
    t.equal(
      call('gate').promptTokenCount,
      gate.frames * 258 + text,
      `gate: ${gate.frames} frames × 258 + the same text`,
    );
    const usage = rig.published().find((r) => r.camera === 'cam1')?.usage as { promptTokenCount?: number } | undefined;
    t.equal(usage?.promptTokenCount, call('cam1').promptTokenCount, 'the result reports what the API counted');
    t.same(fake.problems, []);
  },
);

t.test(
  'duplicates: a still clip like the last analysed one is skipped, a moving one never is, another scene is analysed; the reference survives a restart',
  async (t) => {
    const fake = await new FakeGemini().start();
    t.teardown(() => fake.close());
    const dir = t.testdir();
    const options = {
      analysis: { skipDuplicates: true },
      motion: fixedMotion({ yard: { score: 0.002, changed: 0 }, cam1: { score: 0.3, changed: 0.2 } }),
    };
    const rig = makeRig(dir, fake.url, options);
    await rig.queue.start();
    const root = rig.config.archive.dir;
    const bars = 'smptebars=s=320x240:r=10,noise=alls=8:allf=t';
    const still = async (i: number, source = bars) => makeArchive(root, 'yard', T0 + i * 600_000, { source });
    const results = () => rig.published().length;

    const first = await still(0);
    rig.bus.emit('archive.finished', first);
    await waitFor('the first still clip analysed', () => results() === 1);
    for (const i of [1, 2]) {
      const clip = await still(i);
      rig.bus.emit('archive.finished', clip);
      const event = await waitFor(`clip ${i} skipped`, () => skipped(rig.events).find((e) => e.archive === clip.file));
      t.match(
        event,
        { camera: 'yard', reason: 'duplicate', distance: Number, sameAs: first.file },
        `clip ${i}: compared with the last analysed clip, not the last skipped one`,
      );
      t.ok(event.distance! <= 8, `${event.distance} of 256 comparisons changed`);
    }
    const other = await still(3, 'rgbtestsrc=s=320x240:r=10');
    rig.bus.emit('archive.finished', other);
    await waitFor('another still scene analysed', () => results() === 2);
    t.equal(rig.published()[1]!.archive, other.file);

    // The test pattern gives the same signature in every archive (it restarts at t=0): only motion lets it through.
    for (const i of [0, 1, 2]) rig.bus.emit('archive.finished', await makeArchive(root, 'cam1', T0 + i * 600_000));
    await waitFor('every moving clip analysed', () => rig.published().filter((r) => r.camera === 'cam1').length === 3);
    t.equal(skipped(rig.events).filter((e) => e.camera === 'cam1').length, 0, 'no moving clip skipped');
    t.equal(fake.counts.uploads, 5, 'skipped clips were never uploaded');
    t.match(rig.queue.stats(), { skippedToday: 2 });

    // A person asking for a skipped clip gets it analysed; it becomes the yard's reference.
    await rig.queue.enqueue('yard', skipped(rig.events)[0]!.archive);
    await waitFor('the requested clip analysed', () => results() === 6);
    await rig.close();

    const again = makeRig(dir, fake.url, options);
    t.teardown(again.close);
    await again.queue.start();
    const after = await still(4);
    again.bus.emit('archive.finished', after);
    const event = await waitFor('skipped after the restart', () =>
      skipped(again.events).find((e) => e.archive === after.file),
    );
    t.match(
      event,
      { reason: 'duplicate', sameAs: skipped(rig.events)[0]!.archive },
      'the stored reference: the clip analysed last, on request',
    );
  },
);

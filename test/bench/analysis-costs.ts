/**
 * The analysis cost levers (issue 18, item 3), measured through the real queue, motion meter,
 * scene signature, proxy and Gemini client against the local stand-in of the API
 * (test/helpers/fakeGemini.ts):
 *
 *   1. Requests with and without the duplicate gate on a static scene (sensor-like noise, light
 *      drifting a little from clip to clip) and on the same scene with a person walking through,
 *      near (1.4 % of the view) and far (0.2 %): target ≥ 50 % fewer requests on the static scene
 *      and no moving clip skipped.
 *   2. Input tokens of one 10-minute clip at the default settings, from the proxy's real frame
 *      count and Google's published rates, and as the stand-in counts them: target ≤ 15k.
 *
 *   node --import tsx test/bench/analysis-costs.ts [clips=6] [clipSeconds=20] [tokenSeconds=600]
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { buildPrompt, RESPONSE_SCHEMA, summariseMotion } from '../../agent/analysis/answer.js';
import {
  costsFor,
  estimateInputTokens,
  PROXY_WIDTH,
  sampledFrames,
  TOKENS_PER_FRAME,
  AUDIO_TOKENS_PER_SECOND,
} from '../../agent/analysis/costs.js';
import { MotionMeters } from '../../agent/analysis/motion.js';
import { countFrames, makeProxy } from '../../agent/analysis/proxy.js';
import { validateConfig } from '../../agent/config/validate.js';
import type { AgentEvent } from '../../agent/contract/events.js';
import { FakeGemini } from '../helpers/fakeGemini.js';
import { makeArchive, makeRig } from '../integration/analysisHarness.js';
import { waitFor } from '../helpers/waitFor.js';

const run = promisify(execFile);
const CLIPS = Number(process.argv[2] ?? 6);
const CLIP_SECONDS = Number(process.argv[3] ?? 20);
const TOKEN_SECONDS = Number(process.argv[4] ?? 600);
const T0 = Date.parse('2026-03-02T10:00:00Z');
const STEP_MS = 600_000;

// A yard: grass, a shed, a house front, a road; light drifting a little from clip to clip.
const YARD =
  'color=c=0x4a5a3a:s=640x360:r=10,drawbox=x=60:y=80:w=200:h=140:color=0x8a8a8a:t=fill,drawbox=x=380:y=40:w=220:h=180:color=0x6a4a3a:t=fill,drawbox=x=0:y=280:w=640:h=80:color=0x505050:t=fill';
const noisy = (i: number) => `eq=brightness=${(0.004 * i).toFixed(3)},noise=alls=6:allf=t`;
/** A person in dark clothes walking across the yard, entering at a different place in each clip. */
const walker = (w: number, h: number) => (i: number) =>
  `${YARD}[bg];color=c=0x202830:s=${w}x${h}:r=10[p];[bg][p]overlay=x='mod(${40 + i * 90}+t*60,600)':y=230,${noisy(i)}`;
/** A van parked on the road from clip `from` on, having arrived while nothing was recorded. */
const parked = (from: number) => (i: number) =>
  `${YARD}${i >= from ? ',drawbox=x=300:y=250:w=160:h=90:color=0xe0e0e0:t=fill' : ''},${noisy(i)}`;
/** A scene: `moving` clips must never be skipped; `newSceneAt`, the clip where a still scene changed, must not be either. */
const SCENES: Array<{ name: string; moving: boolean; newSceneAt?: number; source: (i: number) => string }> = [
  { name: 'static yard', moving: false, source: (i) => `${YARD},${noisy(i)}` },
  { name: 'static yard, a van parked from clip 3 on', moving: false, newSceneAt: 3, source: parked(3) },
  { name: 'person walking, near (1.4 % of the view)', moving: true, source: walker(40, 80) },
  { name: 'person walking, far (0.2 % of the view)', moving: true, source: walker(16, 32) },
];

/** Feeds a clip's grey frames (4 fps, 160 px, as the pipeline's motion branch makes them) to the meters at the clip's own time. */
async function meter(
  meters: MotionMeters,
  clock: { at: number },
  camera: string,
  file: string,
  startMs: number,
): Promise<void> {
  const { stdout } = await run(
    'ffmpeg',
    ['-v', 'error', '-i', file, '-vf', 'fps=4,scale=160:90,format=gray', '-f', 'rawvideo', 'pipe:1'],
    { encoding: 'buffer', maxBuffer: 1 << 28 },
  );
  const m = meters.forCamera({ id: camera, width: 640, height: 360 });
  // A new run for each clip: its first frame is not compared with the last clip's last one.
  m.attach(new PassThrough());
  const bytes = m.width * m.height;
  for (let k = 0; (k + 1) * bytes <= stdout.length; k++) {
    clock.at = startMs + k * 250;
    m.addFrame(stdout.subarray(k * bytes, (k + 1) * bytes));
  }
}

interface Run {
  requests: number;
  skipped: string[];
  /** Per clip: the fraction of the picture that changed (motion) and, when skipped, its signature distance. */
  changed: number[];
  distances: number[];
  /** The largest per-second mean motion score of all clips (what skipWhenStill compares with 0.01). */
  score: number;
}

/** One scene's clips through a fresh queue, one clip at a time, the gate on or off. */
async function runScene(
  scene: (typeof SCENES)[number],
  gate: boolean,
  clips: AgentEvent<'archive.finished'>[],
  dir: string,
  fake: FakeGemini,
): Promise<Run> {
  const clock = { at: T0 };
  const meters = new MotionMeters({ clock: { now: () => clock.at, setTimeout, clearTimeout } as never });
  const rig = makeRig(dir, fake.url, { analysis: { skipDuplicates: gate }, motion: meters, deps: { pollMs: 20 } });
  const before = fake.counts.generates;
  await rig.queue.start();
  const skipped: string[] = [];
  const changed: number[] = [];
  const distances: number[] = [];
  let score = 0;
  try {
    for (const clip of clips) {
      await meter(meters, clock, 'yard', path.join(rig.config.archive.dir, clip.file), Date.parse(clip.start));
      const [from, to] = [Date.parse(clip.start), Date.parse(clip.start) + clip.seconds * 1000];
      changed.push(meters.peakChange('yard', from, to) ?? Number.NaN);
      score = Math.max(score, ...(meters.timelineFor('yard', from, to) ?? []).map((s) => s.score ?? 0));
      rig.bus.emit('archive.finished', clip);
      await waitFor(`${scene.name}: ${clip.file} settled`, () => !rig.queue.isPending(clip.file), 120_000);
      const skip = rig.events.find(
        (e): e is AgentEvent<'analysis.skipped'> =>
          e.type === 'analysis.skipped' && (e as AgentEvent<'analysis.skipped'>).archive === clip.file,
      );
      if (skip) skipped.push(clip.file);
      if (skip?.distance !== undefined) distances.push(skip.distance);
    }
  } finally {
    await rig.close();
  }
  return { requests: fake.counts.generates - before, skipped, changed, distances, score };
}

async function duplicates(work: string): Promise<void> {
  console.log(
    `1. Duplicate gate: ${CLIPS} clips of ${CLIP_SECONDS} s per scene (640x360, 10 fps), defaults duplicateMotion ${validateConfig({}).analysis.duplicateMotion}, duplicateDistance ${validateConfig({}).analysis.duplicateDistance}\n`,
  );
  console.log(
    'scene                                        requests off  requests on  fewer   skipped  missed  verdict',
  );
  const fake = await new FakeGemini({ processingPolls: 0 }).start();
  try {
    for (const [n, scene] of SCENES.entries()) {
      const sceneDir = path.join(work, `scene${n}`);
      const archiveRoot = path.join(sceneDir, 'archive');
      const clips = [];
      for (let i = 0; i < CLIPS; i++)
        clips.push(
          await makeArchive(archiveRoot, 'yard', T0 + i * STEP_MS, { seconds: CLIP_SECONDS, source: scene.source(i) }),
        );
      // Both runs read the same archives: the rigs' stores are separate folders beside them.
      const off = await runScene(scene, false, clips, sceneDir, fake);
      await rm(path.join(sceneDir, 'data'), { recursive: true, force: true });
      const on = await runScene(scene, true, clips, sceneDir, fake);
      const fewer = off.requests === 0 ? 0 : (1 - on.requests / off.requests) * 100;
      // Missed: a moving clip skipped, or the first clip of a changed still scene.
      const changedAt = scene.newSceneAt === undefined ? [] : [clips[scene.newSceneAt]!.file];
      const missed = on.skipped.filter((f) => scene.moving || changedAt.includes(f)).length;
      const target = missed === 0 && (scene.moving || fewer >= 50);
      const what = scene.moving ? 'none missed' : `>= 50 % fewer${changedAt.length ? ', the new scene analysed' : ''}`;
      console.log(
        `${scene.name.padEnd(44)} ${String(off.requests).padStart(12)} ${String(on.requests).padStart(12)} ${fewer.toFixed(0).padStart(5)} %  ${String(on.skipped.length).padStart(7)} ${String(missed).padStart(7)}  target ${what}: ${target ? 'met' : 'MISSED'}`,
      );
      console.log(
        `${''.padEnd(46)}changed fraction per clip ${on.changed.map((c) => c.toFixed(4)).join(' ')}; largest mean score ${on.score.toFixed(4)}; distances of the skipped ${on.distances.join(' ') || '-'}`,
      );
    }
  } finally {
    await fake.close();
  }
}

async function tokens(work: string): Promise<void> {
  const config = validateConfig({});
  const { fps, resolution } = costsFor(config, 'cam1');
  console.log(
    `\n2. Input tokens per 10-minute clip at the defaults (analysis.fps ${fps}, analysis.resolution "${resolution}")\n`,
  );
  const started = Date.now();
  const archive = await makeArchive(path.join(work, 'ten', 'archive'), 'cam1', T0, {
    seconds: TOKEN_SECONDS,
    source: 'testsrc2=s=1280x720:r=10',
  });
  const file = path.join(work, 'ten', 'archive', archive.file);
  console.log(`archive: ${TOKEN_SECONDS} s 1280x720 testsrc2, made in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const proxy = await makeProxy(file, work, 'tokens', { fps, width: PROXY_WIDTH[resolution] });
  const frames = await countFrames(proxy.path);
  await proxy.remove();
  // The text part: the default prompt with a motion hint of a busy clip (40 spans, the most it lists), and the schema.
  const busy = summariseMotion(
    Array.from({ length: TOKEN_SECONDS }, (_, t) => ({ t, score: t % 15 < 5 ? 0.05 : 0 })),
    0.01,
  );
  const textChars = buildPrompt(null, busy).length + JSON.stringify(RESPONSE_SCHEMA).length;
  const scale = 600 / TOKEN_SECONDS;
  const estimate = estimateInputTokens({ frames, resolution, textChars });
  const per10 = Math.round(frames * scale) * TOKENS_PER_FRAME[resolution] + Math.ceil(textChars / 4);
  console.log(`proxy frames            ${frames} (${PROXY_WIDTH[resolution]} px wide, no audio track)`);
  console.log(`text (prompt + schema)  ${textChars} characters, ~${Math.ceil(textChars / 4)} tokens`);
  console.log(
    `estimated input tokens  ${estimate}${scale !== 1 ? ` (per 10 min: ${per10})` : ''}  = ${frames} frames × ${TOKENS_PER_FRAME[resolution]} + text`,
  );

  const fake = await new FakeGemini({ usage: 'counted', processingPolls: 0 }).start();
  const rig = makeRig(path.join(work, 'ten'), fake.url, { analysis: { fps, resolution }, deps: { pollMs: 20 } });
  try {
    await rig.queue.start();
    rig.bus.emit('archive.finished', archive);
    const result = await waitFor('the 10-minute result', () => rig.published()[0], 300_000);
    const counted = (result.usage as { promptTokenCount?: number } | undefined)?.promptTokenCount ?? Number.NaN;
    console.log(
      `stand-in API counted    ${counted} prompt tokens (its sampled frames: ${sampledFrames(TOKEN_SECONDS, fps)} by length × fps; the prompt sent had no motion hint)`,
    );
    const worst = Math.max(per10, Math.round(counted * scale));
    console.log(`target <= 15000 input tokens per 10-minute clip: ${worst <= 15_000 ? 'met' : 'MISSED'} (${worst})`);
  } finally {
    await rig.close();
    await fake.close();
  }
  const before = 600 * TOKENS_PER_FRAME.low + Math.ceil(textChars / 4);
  const apiDefaults = 600 * (TOKENS_PER_FRAME.medium + AUDIO_TOKENS_PER_SECOND) + Math.ceil(textChars / 4);
  console.log(
    `for comparison: 1 fps at low resolution (before the levers) ${before}; the API's own defaults (1 fps, 258 a frame, audio) ${apiDefaults}`,
  );
}

const work = await mkdtemp(path.join(tmpdir(), 'analysis-costs-bench-'));
try {
  await duplicates(work);
  await tokens(work);
} finally {
  await rm(work, { recursive: true, force: true });
}

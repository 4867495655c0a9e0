import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import t from 'tap';
import {
  changedFraction,
  CHANGE_LEVEL,
  frameDifference,
  MotionMeter,
  MotionMeters,
} from '../../../agent/analysis/motion.js';

function fakeClock(start: number) {
  let now = start;
  return { clock: { now: () => now, setTimeout, clearTimeout } as never, set: (ms: number) => (now = ms) };
}

t.test('frameDifference is the mean absolute difference scaled to 0..1', async (t) => {
  t.equal(frameDifference(Buffer.from([0, 0]), Buffer.from([0, 0])), 0, 'equal frames');
  t.equal(frameDifference(Buffer.from([0, 0]), Buffer.from([255, 255])), 1, 'black to white');
  t.equal(frameDifference(Buffer.from([10, 20]), Buffer.from([20, 10])), 10 / 255, 'both directions count');
  t.equal(frameDifference(Buffer.alloc(0), Buffer.alloc(0)), 0, 'empty');
});

t.test('changedFraction counts only pixels that moved past the noise level', async (t) => {
  const cases: [string, number[], number[], number][] = [
    ['equal', [0, 0, 0, 0], [0, 0, 0, 0], 0],
    ['noise under the level everywhere', [100, 100, 100, 100], [100 + CHANGE_LEVEL, 100 - CHANGE_LEVEL, 110, 90], 0],
    ['one pixel of four past it', [100, 100, 100, 100], [100 + CHANGE_LEVEL + 1, 100, 100, 100], 0.25],
    ['both directions', [0, 255, 0, 255], [255, 0, 0, 255], 0.5],
  ];
  for (const [name, a, b, fraction] of cases) t.equal(changedFraction(Buffer.from(a), Buffer.from(b)), fraction, name);
  t.equal(changedFraction(Buffer.alloc(0), Buffer.alloc(0)), 0, 'empty');
});

t.test('peakChange: the largest changed fraction of the measured seconds, null when none', async (t) => {
  const { clock, set } = fakeClock(0);
  const meter = new MotionMeter({ width: 4, height: 1, fps: 4, keepSeconds: 3, clock });
  const frame = (...v: number[]) => Buffer.from(v);
  set(0);
  meter.addFrame(frame(0, 0, 0, 0));
  set(500);
  meter.addFrame(frame(200, 0, 0, 0)); // a quarter changed
  set(1000);
  meter.addFrame(frame(200, 0, 0, 5)); // noise only
  t.equal(meter.peakChange(0, 2000), 0.25);
  t.equal(meter.peakChange(1000, 2000), 0, 'a still second measures 0, not null');
  t.equal(meter.peakChange(5000, 6000), null, 'nothing measured');
  t.same(
    meter.timelineFor(0, 2000).map((s) => s.score),
    [200 / 4 / 255, 5 / 4 / 255],
    'the mean score of the same frames',
  );
  for (let s = 2; s < 8; s++) {
    set(s * 1000);
    meter.addFrame(frame(s, s, s, s));
  }
  t.equal(meter.peakChange(0, 2000), null, 'pruned with the scores');
  const meters = new MotionMeters({ clock });
  t.equal(meters.peakChange('nope', 0, 1000), null, 'no meter for that camera');
});

t.test('frames split across chunks are reassembled; per second the largest difference wins', async (t) => {
  const { clock, set } = fakeClock(1_000_000);
  const meter = new MotionMeter({ width: 4, height: 2, fps: 4, clock });
  const stream = new PassThrough();
  meter.attach(stream);
  const frame = (v: number) => Buffer.alloc(8, v);
  set(1_000_000);
  stream.write(frame(0).subarray(0, 5)); // half a frame
  stream.write(Buffer.concat([frame(0).subarray(5), frame(51)])); // rest of frame 1 + frame 2
  set(1_000_500);
  stream.write(frame(0)); // diff 0.2 in the same second
  set(1_001_200);
  stream.write(frame(0)); // still
  await new Promise((r) => setImmediate(r));
  t.equal(meter.frames, 4);
  t.same(meter.timelineFor(1_000_000, 1_003_000), [
    { t: 0, score: 0.2 },
    { t: 1, score: 0 },
    { t: 2, score: null },
  ]);
});

t.test('a new run does not compare against the previous run; old seconds are pruned', async (t) => {
  const { clock, set } = fakeClock(0);
  const meter = new MotionMeter({ width: 2, height: 1, fps: 1, keepSeconds: 3, clock });
  const a = new PassThrough();
  meter.attach(a);
  set(0);
  a.write(Buffer.from([0, 0]));
  const b = new PassThrough();
  meter.attach(b);
  set(1000);
  a.write(Buffer.from([255, 255])); // the dead run's late data is ignored
  b.write(Buffer.from([255, 255])); // first frame of the new run: nothing to compare
  await new Promise((r) => setImmediate(r));
  t.same(meter.timelineFor(0, 2000), [
    { t: 0, score: 0 },
    { t: 1, score: 0 },
  ]);
  for (let s = 2; s < 10; s++) {
    set(s * 1000);
    meter.addFrame(Buffer.from([s, s]));
  }
  t.same(
    meter.timelineFor(0, 3000).map((x) => x.score),
    [null, null, null],
    'pruned',
  );
  t.equal(meter.timelineFor(9000, 10000)[0]!.score! > 0, true);
});

t.test('MotionMeters sizes frames to the camera aspect and answers per camera', async (t) => {
  const meters = new MotionMeters();
  const wide = meters.forCamera({ id: 'a', width: 1280, height: 720 });
  t.match(wide, { width: 160, height: 90, fps: 4 });
  t.equal(meters.forCamera({ id: 'a', width: 1280, height: 720 }), wide, 'one meter per camera');
  t.match(meters.forCamera({ id: 'b', width: 640, height: 480 }), { width: 160, height: 120 });
  t.equal(meters.timelineFor('nope', 0, 1000), null);
  t.same(meters.timelineFor('a', 0, 2000), [
    { t: 0, score: null },
    { t: 1, score: null },
  ]);
});

/** Real FFmpeg grey frames, as the pipeline's motion branch writes them. */
async function meterFfmpeg(source: string): Promise<MotionMeter> {
  let now = 0;
  const meter = new MotionMeter({
    width: 160,
    height: 90,
    fps: 4,
    clock: { now: () => (now += 250), setTimeout, clearTimeout } as never,
  });
  const child = spawn('ffmpeg', [
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    source,
    '-t',
    '3',
    '-vf',
    'fps=4,scale=160:90,format=gray',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'gray',
    'pipe:1',
  ]);
  meter.attach(child.stdout);
  await new Promise((r) => child.once('close', r));
  return meter;
}

t.test('real FFmpeg frames: the test pattern moves, a still picture does not', async (t) => {
  const moving = await meterFfmpeg('testsrc2=s=320x180:r=15');
  const still = await meterFfmpeg('color=c=gray:s=320x180:r=15');
  t.equal(moving.frames, 12);
  const scores = (m: MotionMeter) => m.timelineFor(0, 4000).map((s) => s.score ?? 0);
  t.ok(Math.max(...scores(moving)) > 0.01, `moving: ${scores(moving).join(' ')}`);
  t.equal(Math.max(...scores(still)), 0, 'still: 0');
  t.ok(moving.peakChange(0, 4000)! > 0.01, `moving: ${moving.peakChange(0, 4000)} of the picture changed`);
  t.equal(still.peakChange(0, 4000), 0, 'still: nothing changed');
});

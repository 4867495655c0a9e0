import t from 'tap';
import { spawn } from 'node:child_process';
import { testPatternInput, timeBand, TIME_BAND_BITS } from '../../../../device/sources/test.js';
import { hasFfmpeg } from '../../../helpers/browser.js';

t.test('the time band sits along the bottom edge, one block per bit', async (t) => {
  const cases: Array<
    [string, { width: number; height: number; fps: number }, { y: number; blockWidth: number; blockHeight: number }]
  > = [
    ['720p: 80x30 blocks', { width: 1280, height: 720, fps: 30 }, { y: 690, blockWidth: 80, blockHeight: 30 }],
    [
      '320x240: the 8-px floor on height',
      { width: 320, height: 240, fps: 15 },
      { y: 230, blockWidth: 20, blockHeight: 10 },
    ],
    ['160x120: still 8 px high', { width: 160, height: 120, fps: 10 }, { y: 112, blockWidth: 10, blockHeight: 8 }],
  ];
  for (const [name, spec, want] of cases) t.same(timeBand(spec), { bits: TIME_BAND_BITS, ...want }, name);
});

t.test(
  'real FFmpeg: each frame carries its capture time in milliseconds',
  { skip: hasFfmpeg() ? false : 'ffmpeg missing' },
  async (t) => {
    const spec = { width: 320, height: 240, fps: 15 };
    const band = timeBand(spec);
    const frameBytes = spec.width * spec.height;
    const child = spawn('ffmpeg', [
      '-v',
      'error',
      ...testPatternInput(spec).inputArgs,
      '-frames:v',
      '30',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'gray',
      'pipe:1',
    ]);
    const readings: Array<{ value: number; now: number }> = [];
    let pending = Buffer.alloc(0);
    child.stdout.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= frameBytes) {
        const frame = pending.subarray(0, frameBytes);
        pending = pending.subarray(frameBytes);
        const row = (band.y + Math.floor(band.blockHeight / 2)) * spec.width;
        let value = 0;
        for (let bit = 0; bit < band.bits; bit += 1)
          if (frame[row + bit * band.blockWidth + Math.floor(band.blockWidth / 2)]! > 128) value += 2 ** bit;
        readings.push({ value, now: Date.now() % 2 ** band.bits });
      }
    });
    await new Promise((resolve) => child.once('close', resolve));
    t.equal(readings.length, 30);
    const age = (r: { value: number; now: number }) => ((r.now - r.value + 2 ** band.bits) % 2 ** band.bits) / 1000;
    // FFmpeg buffers its first frames while it starts; the last ones come as they are made.
    const last = readings.at(-1)!;
    t.ok(age(last) >= 0 && age(last) < 3, `the last frame was captured ${age(last).toFixed(3)} s before it was read`);
    const steps = readings
      .slice(-10)
      .map((r, i, all) => (i === 0 ? null : (r.value - all[i - 1]!.value + 2 ** band.bits) % 2 ** band.bits))
      .filter((s) => s !== null);
    // Paced by the wall clock: a loaded machine draws some frames late and the next ones in a
    // burst (steps of 90, 0, 29), so single steps vary; the order and the span over nine may not.
    const span = steps.reduce((sum, s) => sum! + s!, 0)!;
    t.ok(
      steps.every((s) => s! < 500),
      `each frame's time follows the one before: ${steps.join(', ')} ms`,
    );
    t.ok(span > 9 * 40 && span < 9 * 150, `nine frames at 15 fps span ${span} ms (~600)`);
  },
);

import { execFile } from 'node:child_process';
import { chmod } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import {
  sceneSignature,
  SIGNATURE_COMPARISONS,
  signatureArgs,
  signatureDistance,
  signatureOf,
} from '../../../agent/analysis/scene.js';

const run = promisify(execFile);

t.test(
  'signatureArgs: one keyframe-only input per frame at the midpoints of equal parts, one 36×8 grey frame out',
  async (t) => {
    const args = signatureArgs('a.mp4', 600);
    const seeks = args.flatMap((a, i) => (a === '-ss' ? [args[i + 1]] : []));
    t.same(seeks, ['75.000', '225.000', '375.000', '525.000'], 'never the first frame after a cut, never past the end');
    t.equal(args.filter((a) => a === '-i').length, 4);
    t.equal(args.filter((a) => a === 'nokey').length, 4, 'only keyframes are decoded');
    t.ok(args.indexOf('-noaccurate_seek') < args.indexOf('-i'), 'input options come before their input');
    t.match(
      args[args.indexOf('-filter_complex') + 1],
      /^\[0:v\]trim=end_frame=1,setpts=PTS-STARTPTS,scale=9:8:flags=area,format=gray\[f0\];.*\[f0\]\[f1\]\[f2\]\[f3\]hstack=inputs=4$/,
    );
    t.same(args.slice(-5), ['-frames:v', '1', '-f', 'rawvideo', 'pipe:1']);
    const unknown = signatureArgs('a.mp4', Number.NaN);
    t.same(
      unknown.flatMap((a, i) => (a === '-ss' ? [unknown[i + 1]] : [])),
      ['0.000', '0.000', '0.000', '0.000'],
      'length unknown: the first keyframe, four times',
    );
    t.equal(signatureArgs('a.mp4', 3, 2).filter((a) => a === '-i').length, 2);
  },
);

/** Four 9×8 grey frames side by side (FFmpeg's output), filled by `pixel(frame, row, col)`. */
function frames(pixel: (frame: number, row: number, col: number) => number): Uint8Array {
  const out = new Uint8Array(36 * 8);
  for (let row = 0; row < 8; row++)
    for (let f = 0; f < 4; f++)
      for (let col = 0; col < 9; col++)
        out[row * 36 + f * 9 + col] = Math.max(0, Math.min(255, Math.round(pixel(f, row, col))));
  return out;
}

/** A still scene with edges and flat areas, as cells. */
const scene = (f: number, r: number, c: number) => (c < 3 ? 60 : c < 6 ? 140 : 90) + r * 4 + f;

t.test('signatureOf: the cells, frame by frame and row by row, as hex', async (t) => {
  const sig = signatureOf(frames((f, r, c) => f * 100 + r * 10 + c));
  t.equal(sig.length, 4 * 72 * 2);
  t.equal(sig.slice(0, 18), '000102030405060708', 'frame 0, row 0');
  t.equal(sig.slice(18, 20), '0a', 'then frame 0, row 1');
  t.equal(sig.slice(144, 146), '64', 'then frame 1');
  t.throws(() => signatureOf(new Uint8Array(10)), { code: 'analysis_failed', message: /10 bytes, expected 288/ });
});

t.test(
  'signatureDistance: neighbour comparisons that changed past the margin; light, contrast and noise change none',
  async (t) => {
    const base = signatureOf(frames(scene));
    const cases: [string, (f: number, r: number, c: number) => number, number][] = [
      ['the same', scene, 0],
      ['brighter by 30 levels', (f, r, c) => scene(f, r, c) + 30, 0],
      ['contrast ×1.2 around the middle', (f, r, c) => 128 + (scene(f, r, c) - 128) * 1.2, 0],
      ['noise of ±3 levels', (f, r, c) => scene(f, r, c) + (((f * 7 + r * 13 + c * 5) % 7) - 3), 0],
      [
        'a dark object over two cells of frame 0, row 2: its two edges',
        (f, r, c) => (f === 0 && r === 2 && (c === 4 || c === 5) ? 20 : scene(f, r, c)),
        2,
      ],
      ['the same object in every frame', (f, r, c) => (r === 2 && (c === 4 || c === 5) ? 20 : scene(f, r, c)), 8],
      ['another scene: stripes', (_f, _r, c) => (c % 2 ? 30 : 220), 256],
    ];
    for (const [name, pixel, distance] of cases)
      t.equal(signatureDistance(base, signatureOf(frames(pixel))), distance, name);
    t.equal(SIGNATURE_COMPARISONS, 256);
    t.equal(signatureDistance(base, base.slice(2)), Infinity, 'another length: never alike');
    t.equal(signatureDistance(base, `zz${base.slice(2)}`), Infinity, 'not hex: never alike');
  },
);

async function clip(dir: string, name: string, source: string, seconds = 4): Promise<string> {
  const file = path.join(dir, name);
  await run('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    source,
    '-t',
    String(seconds),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-force_key_frames',
    'expr:gte(t,n_forced*1)',
    '-sc_threshold',
    '0',
    '-pix_fmt',
    'yuv420p',
    '-movflags',
    '+faststart',
    file,
  ]);
  return file;
}

t.test(
  'sceneSignature (real FFmpeg): the same still scene under noise and light matches; another scene does not',
  async (t) => {
    const dir = t.testdir();
    const still = 'smptebars=s=640x360:r=10';
    const a = await sceneSignature(await clip(dir, 'a.mp4', `${still},noise=alls=10:allf=t`), 4);
    const b = await sceneSignature(await clip(dir, 'b.mp4', `${still},noise=alls=10:allf=t,eq=brightness=0.06`), 4);
    const other = await sceneSignature(await clip(dir, 'c.mp4', 'testsrc=s=640x360:r=10'), 4);
    t.match(a, /^[0-9a-f]{576}$/);
    t.equal(signatureDistance(a, b), 0, 'same scene, noise and +6 % light');
    t.ok(signatureDistance(a, other) > 40, `another scene: ${signatureDistance(a, other)} comparisons changed`);
  },
);

t.test(
  'sceneSignature: a file FFmpeg cannot read fails with its reason; an abort or the timeout kills it',
  async (t) => {
    const dir = t.testdir({ 'bad.mp4': 'not a video', 'hang.sh': '#!/bin/sh\nexec sleep 30\n' });
    await chmod(path.join(dir, 'hang.sh'), 0o755);
    await t.rejects(sceneSignature(path.join(dir, 'bad.mp4'), 4), {
      code: 'analysis_failed',
      message: /scene signature of bad.mp4 failed: ffmpeg exited 1/,
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await t.rejects(sceneSignature('x.mp4', 4, { signal: controller.signal, ffmpegPath: path.join(dir, 'hang.sh') }), {
      message: /hang\.sh was killed \(SIGKILL\)/,
    });
    await t.rejects(sceneSignature('x.mp4', 4, { timeoutMs: 100, ffmpegPath: path.join(dir, 'hang.sh') }), {
      message: /hang\.sh timed out after 0\.1 s/,
    });
  },
);

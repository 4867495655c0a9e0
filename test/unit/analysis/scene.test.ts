import { execFile } from 'node:child_process';
import { chmod } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { differenceHash, sceneSignature, SIGNATURE_BITS, signatureArgs, signatureDistance } from '../../../agent/analysis/scene.js';

const run = promisify(execFile);

t.test('signatureArgs: one keyframe-only input per frame at the midpoints of equal parts, one 36×8 grey frame out', async (t) => {
  const args = signatureArgs('a.mp4', 600);
  const seeks = args.flatMap((a, i) => (a === '-ss' ? [args[i + 1]] : []));
  t.same(seeks, ['75.000', '225.000', '375.000', '525.000'], 'never the first frame after a cut, never past the end');
  t.equal(args.filter((a) => a === '-i').length, 4);
  t.equal(args.filter((a) => a === 'nokey').length, 4, 'only keyframes are decoded');
  t.ok(args.indexOf('-noaccurate_seek') < args.indexOf('-i'), 'input options come before their input');
  t.match(args[args.indexOf('-filter_complex') + 1], /^\[0:v\]trim=end_frame=1,setpts=PTS-STARTPTS,scale=9:8:flags=area,format=gray\[f0\];.*\[f0\]\[f1\]\[f2\]\[f3\]hstack=inputs=4$/);
  t.same(args.slice(-5), ['-frames:v', '1', '-f', 'rawvideo', 'pipe:1']);
  const unknown = signatureArgs('a.mp4', Number.NaN);
  t.same(unknown.flatMap((a, i) => (a === '-ss' ? [unknown[i + 1]] : [])), ['0.000', '0.000', '0.000', '0.000'], 'length unknown: the first keyframe, four times');
  t.equal(signatureArgs('a.mp4', 3, 2).filter((a) => a === '-i').length, 2);
});

/** Four 9×8 grey frames side by side, filled by `pixel(frame, row, col)`. */
function frames(pixel: (frame: number, row: number, col: number) => number): Uint8Array {
  const out = new Uint8Array(36 * 8);
  for (let row = 0; row < 8; row++) for (let f = 0; f < 4; f++) for (let col = 0; col < 9; col++) out[row * 36 + f * 9 + col] = pixel(f, row, col);
  return out;
}

t.test('differenceHash: a bit per cell darker than its right neighbour, 16 hex digits a frame', async (t) => {
  const cases: [string, Uint8Array, string][] = [
    ['flat: no cell darker than the next', frames(() => 128), '0'.repeat(64)],
    ['brightening to the right: every bit', frames((_f, _r, c) => c * 20), 'f'.repeat(64)],
    ['darkening to the right: no bit', frames((_f, _r, c) => 200 - c * 20), '0'.repeat(64)],
    ['one step up between columns 3 and 4 of frame 0 only', frames((f, _r, c) => (f === 0 && c >= 4 ? 200 : 100)), `${'10'.repeat(8)}${'0'.repeat(48)}`],
  ];
  for (const [name, grey, hex] of cases) t.equal(differenceHash(grey), hex, name);
  const lighter = frames((f, r, c) => (f * 31 + r * 17 + c * 29) % 200);
  const brighter = lighter.map((v) => v + 40);
  t.equal(differenceHash(brighter), differenceHash(lighter), 'a global change of light changes no bit');
  t.throws(() => differenceHash(new Uint8Array(10)), { code: 'analysis_failed', message: /10 bytes, expected 288/ });
});

t.test('signatureDistance: differing bits; signatures of another length are never alike', async (t) => {
  const zero = '0'.repeat(64);
  const cases: [string, string, string, number][] = [
    ['equal', zero, zero, 0],
    ['one bit', zero, `1${'0'.repeat(63)}`, 1],
    ['a whole digit', zero, `f${'0'.repeat(63)}`, 4],
    ['all bits', zero, 'f'.repeat(64), SIGNATURE_BITS],
    ['other length', zero, '0'.repeat(48), Infinity],
    ['not hex', zero, `g${'0'.repeat(63)}`, Infinity],
  ];
  for (const [name, a, b, bits] of cases) t.equal(signatureDistance(a, b), bits, name);
});

async function clip(dir: string, name: string, source: string, seconds = 4): Promise<string> {
  const file = path.join(dir, name);
  await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', source, '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-force_key_frames', 'expr:gte(t,n_forced*1)', '-sc_threshold', '0', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', file]);
  return file;
}

t.test('sceneSignature (real FFmpeg): the same still scene under noise and light matches; another scene does not', async (t) => {
  const dir = t.testdir();
  const still = 'smptebars=s=640x360:r=10';
  const a = await sceneSignature(await clip(dir, 'a.mp4', `${still},noise=alls=10:allf=t`), 4);
  const b = await sceneSignature(await clip(dir, 'b.mp4', `${still},noise=alls=10:allf=t,eq=brightness=0.06`), 4);
  const other = await sceneSignature(await clip(dir, 'c.mp4', 'testsrc=s=640x360:r=10'), 4);
  t.match(a, /^[0-9a-f]{64}$/);
  t.ok(signatureDistance(a, b) <= 4, `same scene, noise and +6 % light: ${signatureDistance(a, b)} bits`);
  t.ok(signatureDistance(a, other) > 40, `another scene: ${signatureDistance(a, other)} bits`);
});

t.test('sceneSignature: a file FFmpeg cannot read fails with its reason; an abort or the timeout kills it', async (t) => {
  const dir = t.testdir({ 'bad.mp4': 'not a video', 'hang.sh': '#!/bin/sh\nexec sleep 30\n' });
  await chmod(path.join(dir, 'hang.sh'), 0o755);
  await t.rejects(sceneSignature(path.join(dir, 'bad.mp4'), 4), { code: 'analysis_failed', message: /scene signature of bad.mp4 failed \(ffmpeg exit 1\)/ });
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  await t.rejects(sceneSignature('x.mp4', 4, { signal: controller.signal, ffmpegPath: path.join(dir, 'hang.sh') }), { message: /ffmpeg exit null/ });
  await t.rejects(sceneSignature('x.mp4', 4, { timeoutMs: 100, ffmpegPath: path.join(dir, 'hang.sh') }), { message: /ffmpeg exit null/ });
});

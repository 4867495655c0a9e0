/**
 * The encoder ladder against this machine's real FFmpeg (Debian 5.1): it lists nvenc, vaapi,
 * qsv and v4l2m2m and none of them works here; libx264 does.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { chooseEncoders, encoderLadder } from '../../device/encoders/index.js';
import { probeEncoder } from '../../device/encoders/probe.js';
import { verifyH264 } from '../../device/encoders/verify.js';
import { runCommand, type CommandRunner } from '../../agent/util/run.js';
import type { BoardInfo } from '../../device/types.js';

const BOARD: BoardInfo = { family: 'generic', model: 'CI x86', kernel: '6.1.0-ci' };
const S = { width: 320, height: 240, fps: 30, bitrateKbps: 400, keyframeSeconds: 1 };
const TOOLS = { run: runCommand, ffmpeg: 'ffmpeg', ffprobe: 'ffprobe', timeoutMs: 15_000 };

/** The real runner, with every spawn recorded. */
function observed(): { run: CommandRunner; calls: string[][] } {
  const calls: string[][] = [];
  return { calls, run: (cmd, args, opts) => (calls.push([cmd, ...args]), runCommand(cmd, args, opts)) };
}

t.test('the generic ladder here: hardware encoders fail with reasons, libx264 works; then a cache hit', async (t) => {
  const dir = t.testdir({ dev: {}, tmp: {} });
  const opts = {
    devRoot: path.join(dir, 'dev'),
    tmpDir: path.join(dir, 'tmp'),
    cacheFile: path.join(dir, 'encoder-probe.json'),
  };
  const first = observed();
  const choice = await chooseEncoders(encoderLadder(BOARD), S, BOARD, { ...opts, run: first.run });
  t.same(
    choice.verdicts.map((v) => [v.name, v.works]),
    [
      ['h264_nvenc', false],
      ['h264_vaapi', false],
      ['h264_qsv', false],
      ['libx264', true],
    ],
  );
  const [nvenc, vaapi, qsv, x264] = choice.verdicts;
  t.match(nvenc?.reason, /no \/dev\/nvidia0/);
  t.match(vaapi?.reason, /no \/dev\/dri\/renderD128/);
  t.match(qsv?.reason, /MFX|qsv|device|session/i, 'qsv is refused by a real encode, in its own words');
  t.notOk(x264?.reason);
  t.same(choice.working, [{ name: 'libx264', where: 'ffmpeg' }]);
  t.ok(
    first.calls.some((c) => c.includes('lavfi')),
    'real test encodes ran',
  );

  const second = observed();
  const again = await chooseEncoders(encoderLadder(BOARD), S, BOARD, { ...opts, run: second.run });
  t.same(second.calls, [], 'cache hit: no ffmpeg spawned');
  t.same(
    again.verdicts.map((v) => [v.name, v.works, v.cached]),
    [
      ['h264_nvenc', false, true],
      ['h264_vaapi', false, true],
      ['h264_qsv', false, true],
      ['libx264', true, true],
    ],
  );
  t.same(again.working, choice.working);
});

t.test("with the device nodes faked, nvenc and vaapi fail in the real encode with FFmpeg's reason", async (t) => {
  const dir = t.testdir({ dev: { nvidia0: '', dri: { renderD128: '' } }, tmp: {} });
  const opts = { devRoot: path.join(dir, 'dev'), tmpDir: path.join(dir, 'tmp') };
  const nvenc = await probeEncoder({ name: 'h264_nvenc', where: 'ffmpeg' }, S, opts);
  t.match(nvenc, { works: false, reason: /libcuda|CUDA|nvenc/i });
  const vaapi = await probeEncoder({ name: 'h264_vaapi', where: 'ffmpeg' }, S, opts);
  t.match(vaapi, { works: false, reason: /VA|vaapi|Device creation failed/ });
  t.ok(nvenc.seconds < 10 && vaapi.seconds < 10, 'a failing hardware encoder is found out quickly');
});

t.test('an unknown encoder name from encoder.prefer fails cleanly', async (t) => {
  const v = await probeEncoder({ name: 'h264_nosuch', where: 'ffmpeg' }, S, { tmpDir: t.testdir({}) });
  t.match(v, { works: false, reason: "Unknown encoder 'h264_nosuch'" });
});

/** Splits Annex B into NAL units (with their start codes) so a test can drop SPS/PPS. */
function nalUnits(data: Buffer): Buffer[] {
  const starts: number[] = [];
  for (let i = 0; i + 3 < data.length; i++) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      starts.push(i > 0 && data[i - 1] === 0 ? i - 1 : i);
      i += 2;
    }
  }
  return starts.map((s, k) => data.subarray(s, starts[k + 1] ?? data.length));
}
const nalType = (nal: Buffer): number => (nal[nal[2] === 1 ? 3 : 4] ?? 0) & 0x1f;

async function encode(t: Test, extra: string[]): Promise<string> {
  const dir = t.testdir({});
  const out = path.join(dir, 'x.h264');
  const r = await runCommand(
    'ffmpeg',
    [
      '-hide_banner',
      '-nostdin',
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=320x240:rate=30',
      '-t',
      '2.5',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-pix_fmt',
      'yuv420p',
      ...extra,
      '-f',
      'h264',
      '-y',
      out,
    ],
    { timeoutMs: 15_000 },
  );
  t.equal(r.code, 0, r.stderr);
  return out;
}

t.test('verifyH264: SPS/PPS only at the start (the Pi encoder in stock FFmpeg) fails the cut check', async (t) => {
  const out = await encode(t, ['-g', '30', '-force_key_frames', 'expr:gte(t,n_forced*1)']);
  t.equal(await verifyH264(out, TOOLS), undefined, 'x264 repeats SPS/PPS at every keyframe: passes');
  let seen = false;
  const stripped = nalUnits(readFileSync(out)).filter((nal) => {
    const type = nalType(nal);
    if (type !== 7 && type !== 8) return true;
    if (type === 8) {
      const keep = !seen;
      seen = true;
      return keep;
    }
    return !seen;
  });
  writeFileSync(out, Buffer.concat(stripped));
  t.match(
    await verifyH264(out, TOOLS),
    /^a cut from the second keyframe does not decode \(SPS\/PPS not repeated in-band\): .*PPS/,
  );
});

t.test('verifyH264: a GOP longer than the test (keyframes not forced) is refused', async (t) => {
  const out = await encode(t, ['-g', '300']);
  t.equal(await verifyH264(out, TOOLS), 'only 1 keyframe in the test encode: forced keyframes are not honoured');
});

t.test('verifyH264: garbage does not decode', async (t) => {
  const dir = t.testdir({ 'x.h264': Buffer.alloc(4096, 0x5a) });
  t.match(await verifyH264(path.join(dir, 'x.h264'), TOOLS), /^the test encode does not decode/);
});

import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { countFrames, makeProxy, parseBenchCpu, parseDuration, proxyArgs } from '../../../agent/analysis/proxy.js';

const run = promisify(execFile);

t.test('proxyArgs', async (t) => {
  const opts = { width: 480, fps: 1, crf: 30, keyframesOnly: true };
  const args = proxyArgs('in.mp4', 'out.mp4', opts);
  t.same(
    args.slice(args.indexOf('-skip_frame'), args.indexOf('-skip_frame') + 2),
    ['-skip_frame', 'nokey'],
    'keyframes only: decoder skips the rest',
  );
  t.ok(args.indexOf('-skip_frame') < args.indexOf('-i'), 'an input option');
  t.equal(args[args.indexOf('-vf') + 1], "fps=1,scale='min(480,iw)':-2", 'never upscales, even height');
  t.ok(args.includes('-an'), 'no audio');
  t.equal(args.at(-1), 'out.mp4');
  t.notOk(proxyArgs('in.mp4', 'out.mp4', { ...opts, keyframesOnly: false }).includes('-skip_frame'), 'full decode');
});

t.test('parse FFmpeg stderr', async (t) => {
  t.equal(parseDuration('  Duration: 00:10:00.03, start: 0.000000, bitrate: 2497 kb/s'), 600.03);
  t.equal(parseDuration('nothing'), null);
  t.equal(parseBenchCpu('bench: utime=1.492s stime=0.068s rtime=1.554s'), 1.56);
  t.equal(parseBenchCpu(''), null);
});

async function archive(dir: string, gop: string[]): Promise<string> {
  const file = path.join(dir, 'archive.mp4');
  await run('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=s=640x360:r=25',
    '-t',
    '6',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-b:v',
    '2500k',
    ...gop,
    '-pix_fmt',
    'yuv420p',
    '-movflags',
    '+faststart',
    file,
  ]);
  return file;
}

t.test('makeProxy: much smaller than the archive, about 1 fps, removed on request', async (t) => {
  const dir = t.testdir();
  const input = await archive(dir, ['-force_key_frames', 'expr:gte(t,n_forced*1)', '-sc_threshold', '0']);
  const proxy = await makeProxy(input, dir, 'job-1');
  t.ok(proxy.bytes < statSync(input).size / 10, `proxy ${proxy.bytes} B vs archive ${statSync(input).size} B`);
  t.equal(proxy.durationSeconds, 6);
  t.ok(proxy.cpuSeconds !== null && proxy.cpuSeconds >= 0);
  const frames = await countFrames(proxy.path);
  t.ok(frames >= 5 && frames <= 7, `${frames} frames for 6 s`);
  await proxy.remove();
  t.notOk(existsSync(proxy.path));
});

t.test('makeProxy: an archive with sparse keyframes falls back to decoding every frame', async (t) => {
  const dir = t.testdir();
  const input = await archive(dir, ['-g', '1000']);
  const proxy = await makeProxy(input, dir, 'job-2');
  const frames = await countFrames(proxy.path);
  t.ok(frames >= 5, `${frames} frames despite a single keyframe`);
});

t.test("makeProxy: a broken input fails with FFmpeg's reason and leaves nothing", async (t) => {
  const dir = t.testdir({ 'bad.mp4': 'not a video' });
  await t.rejects(makeProxy(path.join(dir, 'bad.mp4'), dir, 'job-3'), {
    code: 'analysis_failed',
    message: /proxy of bad.mp4 failed/,
  });
  t.notOk(existsSync(path.join(dir, 'job-3.proxy.mp4')));
});

t.test('makeProxy: abort kills FFmpeg', async (t) => {
  const dir = t.testdir();
  const input = await archive(dir, ['-g', '1000']);
  const controller = new AbortController();
  const p = makeProxy(input, dir, 'job-4', { keyframesOnly: false }, controller.signal);
  controller.abort();
  await t.rejects(p, { message: /ffmpeg exit null/ });
});

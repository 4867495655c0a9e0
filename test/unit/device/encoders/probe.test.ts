import { chmodSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { jetsonTestArgs, missingDevice, probeEncoder, testEncodeArgs } from '../../../../device/encoders/probe.js';
import type { CommandRunner, RunResult } from '../../../../agent/util/run.js';

const S = { width: 1280, height: 720, fps: 30, bitrateKbps: 2500, keyframeSeconds: 1 };
const ok = (over: Partial<RunResult> = {}): RunResult => ({
  code: 0,
  signal: null,
  stdout: '',
  stderr: '',
  timedOut: false,
  ...over,
});

/** A runner that answers every call the same and records it. */
function answering(result: RunResult): { run: CommandRunner; calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    run: async (cmd, args) => {
      calls.push([cmd, ...args]);
      return result;
    },
  };
}

t.test('test encode: lavfi frames, the configured encoder args, forced keyframes, raw H.264 out', async (t) => {
  const args = testEncodeArgs('libx264', S, '/tmp/x.h264');
  const line = args.join(' ');
  t.match(line, /-f lavfi -i testsrc2=size=1280x720:rate=30 -t 2.5 /);
  t.match(line, /-c:v libx264 .*-b:v 2500k .*-g 60/);
  t.match(line, /-force_key_frames expr:gte\(t,n_forced\*1\) -f h264 -y \/tmp\/x\.h264$/);
  t.match(line, /-progress pipe:1/);
});

t.test('vaapi: its device goes before the input and its upload filter after', async (t) => {
  const args = testEncodeArgs('h264_vaapi', { ...S, keyframeSeconds: 2 }, 'o');
  t.ok(args.indexOf('-vaapi_device') < args.indexOf('-i'));
  t.equal(args[args.indexOf('-vf') + 1], 'format=nv12,hwupload');
  t.equal(args[args.indexOf('-t') + 1], '4.5', 'long enough for two 2-s keyframes');
});

t.test('Jetson test pipeline: NVENC with every I-frame an IDR and SPS/PPS in-band', async (t) => {
  const line = jetsonTestArgs(S, '/tmp/j.h264').join(' ');
  t.match(line, /videotestsrc num-buffers=75 /);
  t.match(line, /nvv4l2h264enc insert-sps-pps=1 iframeinterval=30 idrinterval=30 bitrate=2500000/);
  t.match(line, /filesink location=\/tmp\/j\.h264$/);
});

const devices: Array<{ name: string; encoder: string; tree: Record<string, unknown>; want: RegExp | undefined }> = [
  { name: 'nvenc without /dev/nvidia0', encoder: 'h264_nvenc', tree: {}, want: /no \/dev\/nvidia0/ },
  {
    name: 'nvenc with /dev/nvidia0 goes on to encode',
    encoder: 'h264_nvenc',
    tree: { dev: { nvidia0: '' } },
    want: undefined,
  },
  { name: 'vaapi without a render node', encoder: 'h264_vaapi', tree: {}, want: /no \/dev\/dri\/renderD128/ },
  {
    name: 'vaapi with a render node',
    encoder: 'h264_vaapi',
    tree: { dev: { dri: { renderD128: '' } } },
    want: undefined,
  },
  {
    name: 'v4l2m2m on a Pi 5: no encode node',
    encoder: 'h264_v4l2m2m',
    tree: { sys: { class: { video4linux: { video19: { name: 'pispbe-output0\n' } } } } },
    want: /no video4linux encoder node/,
  },
  {
    name: 'v4l2m2m on a Pi 4: bcm2835-codec-encode present',
    encoder: 'h264_v4l2m2m',
    tree: {
      sys: {
        class: {
          video4linux: { video10: { name: 'bcm2835-codec-decode\n' }, video11: { name: 'bcm2835-codec-encode\n' } },
        },
      },
    },
    want: undefined,
  },
  {
    name: 'Orin Nano: no /dev/v4l2-nvenc',
    encoder: 'nvv4l2h264enc',
    tree: {},
    want: /no \/dev\/v4l2-nvenc or \/dev\/nvhost-msenc/,
  },
  {
    name: 'Xavier: /dev/nvhost-msenc present',
    encoder: 'nvv4l2h264enc',
    tree: { dev: { 'nvhost-msenc': '' } },
    want: undefined,
  },
  { name: 'qsv and libx264 need no node check', encoder: 'h264_qsv', tree: {}, want: undefined },
];
for (const c of devices) {
  t.test(c.name, async (t) => {
    const root = t.testdir(c.tree as Parameters<typeof t.testdir>[0]);
    const got = await missingDevice(c.encoder, { devRoot: path.join(root, 'dev'), sysRoot: path.join(root, 'sys') });
    if (c.want) t.match(got, c.want);
    else t.equal(got, undefined);
  });
}

t.test('a missing device costs no encode', async (t) => {
  const root = t.testdir({});
  const fake = answering(ok());
  const v = await probeEncoder({ name: 'h264_nvenc', where: 'ffmpeg' }, S, { run: fake.run, devRoot: root });
  t.match(v, { name: 'h264_nvenc', where: 'ffmpeg', works: false, reason: /no \/dev\/nvidia0/ });
  t.same(fake.calls, []);
});

t.test("a failing encode reports FFmpeg's own words", async (t) => {
  const fake = answering(
    ok({
      code: 1,
      stderr: '[h264_qsv @ 0x55] Error initializing an internal MFX session: unsupported (-3)\nConversion failed!\n',
    }),
  );
  const v = await probeEncoder({ name: 'h264_qsv', where: 'ffmpeg' }, S, { run: fake.run, tmpDir: t.testdir({}) });
  t.same(
    { works: v.works, reason: v.reason },
    { works: false, reason: 'Error initializing an internal MFX session: unsupported (-3)' },
  );
});

t.test('a hung encoder times out', async (t) => {
  const fake = answering(ok({ code: null, signal: 'SIGKILL', timedOut: true }));
  const v = await probeEncoder({ name: 'h264_qsv', where: 'ffmpeg' }, S, {
    run: fake.run,
    timeoutMs: 2000,
    tmpDir: t.testdir({}),
  });
  t.equal(v.reason, 'test encode timed out after 2 s');
});

t.test('an encoder slower than 1.2x real time is refused', async (t) => {
  const fake = answering(ok({ stdout: 'frame=75\nspeed=0.85x\nprogress=end\n' }));
  const v = await probeEncoder({ name: 'libx264', where: 'ffmpeg' }, S, { run: fake.run, tmpDir: t.testdir({}) });
  t.equal(v.reason, 'too slow: encodes 1280x720@30 at 0.85x real time, needs 1.2x');
});

t.test('exit 0 without output is refused', async (t) => {
  const fake = answering(ok({ stdout: 'speed=3x\n' }));
  const v = await probeEncoder({ name: 'libx264', where: 'ffmpeg' }, S, { run: fake.run, tmpDir: t.testdir({}) });
  t.equal(v.reason, 'the test encode wrote no output');
});

t.test('ffmpeg not installed: works false, says so', async (t) => {
  const run: CommandRunner = async () => {
    throw new Error('spawn ffmpeg ENOENT');
  };
  const v = await probeEncoder({ name: 'libx264', where: 'ffmpeg' }, S, { run, tmpDir: t.testdir({}) });
  t.match(v, { works: false, reason: 'probe failed: spawn ffmpeg ENOENT' });
});

t.test('producers: program missing from PATH', async (t) => {
  const root = t.testdir({
    dev: { 'v4l2-nvenc': '' },
    sys: { class: { video4linux: { video11: { name: 'bcm2835-codec-encode' } } } },
    bin: {},
  });
  const opts = { devRoot: path.join(root, 'dev'), sysRoot: path.join(root, 'sys'), pathEnv: path.join(root, 'bin') };
  t.match(await probeEncoder({ name: 'rpicam-h264', where: 'producer' }, S, opts), {
    works: false,
    reason: 'rpicam-vid (or libcamera-vid) not found on PATH',
  });
  t.match(await probeEncoder({ name: 'nvv4l2h264enc', where: 'producer' }, S, opts), {
    works: false,
    reason: 'gst-launch-1.0 not found on PATH',
  });
  t.match(await probeEncoder({ name: 'x264enc', where: 'producer' }, S, opts), {
    works: false,
    reason: 'unknown producer encoder x264enc',
  });
});

t.test('producers: a Bullseye Pi with libcamera-vid and the encode node works', async (t) => {
  const root = t.testdir({
    sys: { class: { video4linux: { video11: { name: 'bcm2835-codec-encode' } } } },
    bin: { 'libcamera-vid': '#!/bin/sh\n' },
  });
  chmodSync(path.join(root, 'bin/libcamera-vid'), 0o755);
  const v = await probeEncoder({ name: 'rpicam-h264', where: 'producer' }, S, {
    sysRoot: path.join(root, 'sys'),
    pathEnv: path.join(root, 'bin'),
  });
  t.match(v, { name: 'rpicam-h264', where: 'producer', works: true });
  t.notOk('reason' in v);
});

t.test("producers: a Jetson whose NVENC test pipeline fails reports GStreamer's last lines", async (t) => {
  const root = t.testdir({ dev: { 'v4l2-nvenc': '' }, bin: { 'gst-launch-1.0': '#!/bin/sh\n' }, tmp: {} });
  chmodSync(path.join(root, 'bin/gst-launch-1.0'), 0o755);
  const fake = answering(
    ok({
      code: 1,
      stderr:
        'ERROR: from element /GstPipeline:pipeline0/nvv4l2h264enc:nvv4l2h264enc0: Could not open device\nExecution ended after 0:00:00.0\n',
    }),
  );
  const v = await probeEncoder({ name: 'nvv4l2h264enc', where: 'producer' }, S, {
    run: fake.run,
    devRoot: path.join(root, 'dev'),
    pathEnv: path.join(root, 'bin'),
    tmpDir: path.join(root, 'tmp'),
  });
  t.match(v.reason, /Could not open device/);
  t.equal(fake.calls[0]?.[0], 'gst-launch-1.0');
});

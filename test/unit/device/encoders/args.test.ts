import t from 'tap';
import { ffmpegEncoderArgs, gopFrames, jetsonEncoderElements } from '../../../../device/encoders/args.js';

const S = { width: 1280, height: 720, fps: 30, bitrateKbps: 2500, keyframeSeconds: 1 };

const cases: Array<[string, string, RegExp[]]> = [
  [
    'libx264: ultrafast zerolatency, capped bitrate, its own GOP only a two-second backstop (keyframes are forced on the clock)',
    'libx264',
    [/-preset ultrafast -tune zerolatency/, /-b:v 2500k -maxrate 2500k -bufsize 5000k/, /-g 60/, /-pix_fmt yuv420p/],
  ],
  [
    'libx264: the nominal frame rate for its rate control (wall-clock captures have none FFmpeg can guess)',
    'libx264',
    [/-x264-params fps=30/],
  ],
  [
    'h264_v4l2m2m: bitrate and GOP always set, no B-frames (the Pi has no CRF)',
    'h264_v4l2m2m',
    [/-b:v 2500k -g 30 -bf 0/, /-pix_fmt yuv420p/],
  ],
  ['h264_nvenc: low-latency preset, no B-frames', 'h264_nvenc', [/-preset p3 -tune ll/, /-bf 0/]],
  ['h264_qsv: nv12 input', 'h264_qsv', [/-pix_fmt nv12/]],
  ['an encoder we do not know still gets bitrate and GOP', 'h264_omx', [/^-c:v h264_omx -b:v 2500k .*-g 30$/]],
];
for (const [name, encoder, patterns] of cases) {
  t.test(name, async (t) => {
    const args = ffmpegEncoderArgs(encoder, S);
    const line = args.outputArgs.join(' ');
    t.match(line, new RegExp(`^-c:v ${encoder}\\b`));
    for (const p of patterns) t.match(line, p);
  });
}

t.test('h264_vaapi: a device before the inputs and an upload filter', async (t) => {
  t.match(ffmpegEncoderArgs('h264_vaapi', S), {
    globalArgs: ['-vaapi_device', '/dev/dri/renderD128'],
    filter: 'format=nv12,hwupload',
  });
});

t.test('GOP follows the rate and keyframe spacing, never below 1', async (t) => {
  t.match(ffmpegEncoderArgs('h264_v4l2m2m', { ...S, fps: 25, keyframeSeconds: 2 }).outputArgs.join(' '), /-g 50/);
  t.match(ffmpegEncoderArgs('h264_v4l2m2m', { ...S, fps: 1, keyframeSeconds: 0.1 }).outputArgs.join(' '), /-g 1\b/);
  t.match(ffmpegEncoderArgs('libx264', { ...S, fps: 25, keyframeSeconds: 2 }).outputArgs.join(' '), /-g 100\b/);
});

t.test("the Jetson encoder's elements: every I-frame an IDR with SPS/PPS, GOP and bitrate in its units", async (t) => {
  t.equal(gopFrames(15, 2), 30);
  t.equal(gopFrames(1, 0.1), 1, 'never below one frame');
  t.same(jetsonEncoderElements(30, 2500), [
    'nvv4l2h264enc',
    'insert-sps-pps=1',
    'iframeinterval=30',
    'idrinterval=30',
    'bitrate=2500000',
    '!',
    'h264parse',
    '!',
    'video/x-h264,stream-format=byte-stream',
  ]);
});

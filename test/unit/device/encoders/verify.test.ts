import t from 'tap';
import { progressSpeed, stderrReason } from '../../../../device/encoders/verify.js';

const reasons: Array<[string, string, string | undefined]> = [
  [
    'nvenc without a driver: the libcuda line, not the generic one',
    '[h264_nvenc @ 0x5614f80aa580] Cannot load libcuda.so.1\nError initializing output stream 0:0 -- Error while opening encoder for output stream #0:0 - maybe incorrect parameters such as bit_rate, rate, width or height\n',
    'Cannot load libcuda.so.1',
  ],
  [
    'v4l2m2m on a Pi 5 or a PC: both of its lines',
    "[h264_v4l2m2m @ 0x562bfe6ea580] Could not find a valid device\n[h264_v4l2m2m @ 0x562bfe6ea580] can't configure encoder\nError initializing output stream 0:0 -- Error while opening encoder\n",
    "Could not find a valid device; can't configure encoder",
  ],
  [
    'qsv without an Intel GPU',
    '[h264_qsv @ 0x560c280d4580] Error initializing an internal MFX session: unsupported (-3)\nError initializing output stream 0:0 -- x\nConversion failed!\n',
    'Error initializing an internal MFX session: unsupported (-3)',
  ],
  [
    'a cut without SPS/PPS: repeated decoder errors collapse',
    '[h264 @ 0x1] non-existing PPS 0 referenced\n    Last message repeated 1 times\n[h264 @ 0x1] decode_slice_header error\n[h264 @ 0x1] no frame!\n[h264 @ 0x1] non-existing PPS 0 referenced\n[h264 @ 0x1] no frame!\n',
    'non-existing PPS 0 referenced; decode_slice_header error; no frame!',
  ],
  [
    'only a generic line: it is kept rather than nothing',
    'Error initializing output stream 0:0 -- Error while opening encoder for output stream #0:0\n',
    'Error initializing output stream 0:0 -- Error while opening encoder for output stream #0:0',
  ],
  ['empty stderr: no reason', '\n', undefined],
];
for (const [name, stderr, want] of reasons) t.test(name, async (t) => t.equal(stderrReason(stderr), want));

t.test('the last speed of a -progress report', async (t) => {
  t.equal(progressSpeed('frame=30\nspeed=0.98x\nprogress=continue\nframe=75\nspeed=49.1x\nprogress=end\n'), 49.1);
  t.equal(progressSpeed('speed=N/A\nprogress=end\n'), undefined);
  t.equal(progressSpeed(''), undefined);
});

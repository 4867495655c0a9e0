import t from 'tap';
import { classifyExit, lastErrorLine, type FailureKind } from '../../../agent/pipeline/failure.js';
import type { FfmpegRunExit } from '../../../agent/pipeline/ffmpegProcess.js';

// Lines as FFmpeg 5/6 prints them on the boards design.md describes.
const NVENC = [
  '[h264_nvenc @ 0x55d0c8a3e0c0] Cannot load libcuda.so.1',
  '[h264_nvenc @ 0x55d0c8a3e0c0] Error opening encoder',
  'Error initializing output stream 0:0 -- Error while opening encoder for output stream #0:0 - maybe incorrect parameters such as bit_rate, rate, width or height',
].join('\n');
const V4L2M2M = [
  '[h264_v4l2m2m @ 0x5581d6f2c0] Could not find a valid device',
  "[h264_v4l2m2m @ 0x5581d6f2c0] can't configure encoder",
  'Error initializing output stream 0:0 -- Error while opening encoder for output stream #0:0 - maybe incorrect parameters such as bit_rate, rate, width or height',
].join('\n');
const VAAPI = [
  '[AVHWDeviceContext @ 0x5613] No VA display found for device /dev/dri/renderD128.',
  'Device creation failed: -22.',
  "Failed to set value '/dev/dri/renderD128' for option 'vaapi_device': Invalid argument",
].join('\n');
const V4L2_UNPLUG = [
  '[video4linux2,v4l2 @ 0x55f5b0] ioctl(VIDIOC_DQBUF): No such device',
  '/dev/video0: No such device',
].join('\n');
const V4L2_MISSING =
  '[video4linux2,v4l2 @ 0x55f5] Cannot open video device /dev/video2: No such file or directory\n/dev/video2: No such file or directory';
const RTSP =
  '[tcp @ 0x5600] Connection to tcp://192.168.1.20:554?timeout=0 failed: Connection refused\nrtsp://192.168.1.20:554/stream1: Connection refused';
const CRASH = 'Assertion best_input >= 0 failed at fftools/ffmpeg.c:3842';
// Camera-side encoders failing inside the capture producer, in the producer's own words.
const RPICAM_NO_ENCODER = 'ERROR: *** failed to open V4L2 H264 encoder ***';
const NVV4L2_NO_NVENC =
  "ERROR: from element /GstPipeline:pipeline0/nvv4l2h264enc:nvv4l2h264enc0: Could not open device '/dev/v4l2-nvenc' for reading and writing.";
const ARGUS_NO_CAMERA =
  'ERROR: from element /GstPipeline:pipeline0/GstNvArgusCameraSrc:nvarguscamerasrc0: Failed to create CaptureSession';
const PROGRESS_NOISE = 'frame=40\nfps=10.0\nbitrate=N/A\nprogress=continue';

function exit(over: Partial<FfmpegRunExit> = {}): FfmpegRunExit {
  return { code: 1, signal: null, stderrTail: '', ...over };
}

t.test('classifyExit', async (t) => {
  const cases: Array<[string, FfmpegRunExit, number, FailureKind]> = [
    ['nvenc without a GPU driver, before any frame: encoder', exit({ stderrTail: NVENC }), 0, 'encoder'],
    ['v4l2m2m without /dev/video11, before any frame: encoder', exit({ stderrTail: V4L2M2M }), 0, 'encoder'],
    ['vaapi without a render node, before any frame: encoder', exit({ stderrTail: VAAPI }), 0, 'encoder'],
    ['an unknown encoder name: encoder', exit({ stderrTail: "Unknown encoder 'h264_omx'" }), 0, 'encoder'],
    [
      'rpicam-vid --codec h264 with no V4L2 encoder (Pi 5): encoder',
      exit({ producerStderrTail: RPICAM_NO_ENCODER, producerEndedFirst: true, producer: { code: 255, signal: null } }),
      0,
      'encoder',
    ],
    [
      'nvv4l2h264enc with no /dev/v4l2-nvenc (Orin Nano): encoder',
      exit({ producerStderrTail: NVV4L2_NO_NVENC, producerEndedFirst: true, producer: { code: 1, signal: null } }),
      0,
      'encoder',
    ],
    [
      'GStreamer without the nvv4l2h264enc element: encoder',
      exit({
        producerStderrTail: 'WARNING: erroneous pipeline: no element "nvv4l2h264enc"',
        producerEndedFirst: true,
        producer: { code: 1, signal: null },
      }),
      0,
      'encoder',
    ],
    [
      'Argus has no camera: the source, not the encoder',
      exit({ producerStderrTail: ARGUS_NO_CAMERA, producerEndedFirst: true, producer: { code: 1, signal: null } }),
      0,
      'source',
    ],
    ['nvenc text after frames flowed: not blamed on the encoder', exit({ stderrTail: NVENC }), 120, 'other'],
    ['v4l2m2m text after frames flowed: not blamed on the encoder', exit({ stderrTail: V4L2M2M }), 5, 'other'],
    [
      'USB camera unplugged mid-run (VIDIOC_DQBUF: No such device): source',
      exit({ stderrTail: V4L2_UNPLUG }),
      300,
      'source',
    ],
    ['USB camera unplugged before the first frame: source', exit({ stderrTail: V4L2_UNPLUG }), 0, 'source'],
    ['device node missing: source', exit({ stderrTail: V4L2_MISSING }), 0, 'source'],
    ['rtsp camera refuses the connection: source', exit({ stderrTail: RTSP }), 0, 'source'],
    [
      'rtsp: connection timed out mid-run: source',
      exit({ stderrTail: 'rtsp://cam/1: Connection timed out' }),
      50,
      'source',
    ],
    [
      'http camera answers 404: source',
      exit({ stderrTail: 'http://cam/video: Server returned 404 Not Found' }),
      0,
      'source',
    ],
    ['a plain crash with frames seen: other', exit({ code: null, signal: 'SIGSEGV', stderrTail: CRASH }), 200, 'other'],
    ['a plain crash before any frame: other', exit({ code: 134, stderrTail: CRASH }), 0, 'other'],
    ['empty stderr, exit 1: other', exit(), 0, 'other'],
    [
      'producer (rpicam-vid) failed to open the camera: source',
      exit({ producerStderrTail: 'ERROR: *** Failed to start camera ***' }),
      0,
      'source',
    ],
    [
      'producer exited non-zero with nothing recognisable: source',
      exit({ producer: { code: 255, signal: null }, producerStderrTail: 'something odd' }),
      0,
      'source',
    ],
    [
      'producer stopped after FFmpeg ended (SIGTERM from us): not a source fault',
      exit({ producer: { code: null, signal: 'SIGTERM' }, producerEndedFirst: false }),
      10,
      'other',
    ],
    [
      'producer exited 0 after FFmpeg: other',
      exit({ producer: { code: 0, signal: null }, producerEndedFirst: false }),
      10,
      'other',
    ],
    [
      'producer killed first (SIGKILL), FFmpeg then ended cleanly on EOF: source',
      exit({ code: 0, producer: { code: null, signal: 'SIGKILL' }, producerEndedFirst: true }),
      10,
      'source',
    ],
    [
      'producer ended first with code 0 (camera stream ended): source',
      exit({ code: 0, producer: { code: 0, signal: null }, producerEndedFirst: true }),
      10,
      'source',
    ],
    [
      'encoder failure mentioning a missing file, before any frame: encoder wins',
      exit({ stderrTail: `${V4L2M2M}\n/dev/video11: No such file or directory` }),
      0,
      'encoder',
    ],
  ];
  for (const [name, e, frames, want] of cases) t.test(name, async (t) => t.equal(classifyExit(e, frames), want));
});

t.test('lastErrorLine', async (t) => {
  const cases: Array<[string, FfmpegRunExit, string]> = [
    ['the last line of nvenc stderr', exit({ stderrTail: NVENC }), NVENC.split('\n').at(-1)!],
    [
      'trailing blank lines and spaces skipped',
      exit({ stderrTail: `${RTSP}\n\n   \n` }),
      'rtsp://192.168.1.20:554/stream1: Connection refused',
    ],
    ['progress key=value lines skipped', exit({ stderrTail: `${CRASH}\n${PROGRESS_NOISE}` }), CRASH],
    [
      "the producer's stderr comes after FFmpeg's",
      exit({ stderrTail: 'pipe:0: End of file', producerStderrTail: 'ERROR: *** no cameras available ***' }),
      'ERROR: *** no cameras available ***',
    ],
    ['nothing printed: the exit code', exit({ code: 1 }), 'exited with code 1'],
    [
      "the producer ended first: its last line, not FFmpeg's",
      exit({
        code: 0,
        stderrTail: 'some ffmpeg line',
        producer: { code: 255, signal: null },
        producerEndedFirst: true,
        producerStderrTail: 'ERROR: camera frontend has timed out!',
      }),
      'ERROR: camera frontend has timed out!',
    ],
    [
      'the producer ended first, silent: how it ended',
      exit({
        code: 0,
        stderrTail: 'some ffmpeg line',
        producer: { code: null, signal: 'SIGKILL' },
        producerEndedFirst: true,
      }),
      'capture producer exited with code none (SIGKILL)',
    ],
    [
      'nothing printed, killed: code none and the signal',
      exit({ code: null, signal: 'SIGKILL' }),
      'exited with code none (SIGKILL)',
    ],
    [
      'only progress lines: falls back to the exit code',
      exit({ code: 255, stderrTail: PROGRESS_NOISE }),
      'exited with code 255',
    ],
  ];
  for (const [name, e, want] of cases) t.test(name, async (t) => t.equal(lastErrorLine(e), want));
});

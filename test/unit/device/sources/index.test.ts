import t from 'tap';
import type { Camera } from '../../../../device/cameras.js';
import { captureInput } from '../../../../device/sources/index.js';
import { parseFormats } from '../../../../device/v4l2ctl.js';
import type { BoardInfo, CaptureInput, EncoderCandidate } from '../../../../device/types.js';
import { recorded } from '../../../fixtures/device/v4l2/fake-v4l2ctl.js';

const board = (family: BoardInfo['family'], model: string): BoardInfo => ({ family, model, kernel: '6.6.31' });
const PI4 = board('pi-legacy', 'Raspberry Pi 4 Model B Rev 1.4');
const PI5 = board('pi5', 'Raspberry Pi 5 Model B Rev 1.0');
const XAVIER = board('jetson', 'NVIDIA Jetson Xavier NX Developer Kit');
const NANO = board('jetson-orin-nano', 'NVIDIA Jetson Orin Nano Developer Kit');
const PC = board('generic', 'Intel NUC');
const X264: EncoderCandidate = { name: 'libx264', where: 'ffmpeg' };
const RPICAM: EncoderCandidate = { name: 'rpicam-h264', where: 'producer' };
const NVENC: EncoderCandidate = { name: 'nvv4l2h264enc', where: 'producer' };
const SPEC = { width: 1280, height: 720, fps: 30 };
const SETTINGS = { bitrateKbps: 2500, keyframeSeconds: 1 };

const c920 = (uvcVersion?: string): Camera => ({
  device: '/dev/video0',
  byId: '/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_8B1C2A3F-video-index0',
  name: 'HD Pro Webcam C920',
  formats: parseFormats(recorded('uvc-c920-formats.txt')),
  ...(uvcVersion ? { uvcVersion } : {}),
});
const BYID = '/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_8B1C2A3F-video-index0';
/** Live sources stamp each packet with the wall-clock time it reaches FFmpeg. */
const WALL = ['-use_wallclock_as_timestamps', '1'];
const RAW_PIPE = [
  '-f',
  'rawvideo',
  '-pix_fmt',
  'yuv420p',
  '-video_size',
  '1280x720',
  '-framerate',
  '30',
  '-i',
  'pipe:0',
];
const H264_PIPE = ['-f', 'h264', '-framerate', '30', '-i', 'pipe:0'];
const RPICAM_BASE = [
  '-t',
  '0',
  '-n',
  '--camera',
  '0',
  '--width',
  '1280',
  '--height',
  '720',
  '--framerate',
  '30',
  '--flush',
];
const ARGUS = [
  '-q',
  'nvarguscamerasrc',
  'sensor-id=1',
  '!',
  'video/x-raw(memory:NVMM),width=1280,height=720,framerate=30/1',
];

interface Case {
  name: string;
  source: string;
  board?: BoardInfo;
  encoder?: EncoderCandidate;
  cameras?: Camera[];
  spec?: typeof SPEC;
  settings?: typeof SETTINGS;
  has?: string[];
  /** Whether the capture is stamped on arrival (CaptureInput.wallClock). */
  wall: boolean;
  want: Partial<CaptureInput>;
}

const cases: Case[] = [
  {
    name: 'test: the lavfi pattern with the burnt-in clock',
    source: 'test',
    wall: true,
    want: { encoded: false, wallClock: true, description: 'test pattern 1280x720@30' },
  },
  {
    name: 'auto without cameras falls back to the test pattern',
    source: 'auto',
    wall: true,
    want: { encoded: false, wallClock: true, description: 'test pattern 1280x720@30' },
  },
  {
    name: 'auto with a webcam reads it by its by-id name, MJPEG at 720p30',
    source: 'auto',
    cameras: [c920()],
    wall: true,
    want: {
      inputArgs: [
        ...WALL,
        '-f',
        'v4l2',
        '-thread_queue_size',
        '64',
        '-input_format',
        'mjpeg',
        '-video_size',
        '1280x720',
        '-framerate',
        '30',
        '-i',
        BYID,
      ],
      encoded: false,
      description: `v4l2 ${BYID} mjpeg 1280x720@30`,
    },
  },
  {
    name: 'v4l2 by node on a UVC 1.1 camera: camera H.264, copied (encoded)',
    source: 'v4l2:/dev/video0',
    cameras: [c920('1.10')],
    wall: true,
    want: {
      inputArgs: [
        ...WALL,
        '-f',
        'v4l2',
        '-thread_queue_size',
        '64',
        '-input_format',
        'h264',
        '-video_size',
        '1280x720',
        '-framerate',
        '30',
        '-i',
        '/dev/video0',
      ],
      encoded: true,
      wallClock: true,
    },
  },
  {
    name: 'v4l2 at 1024x576: captures 1280x720 and scales down',
    source: `v4l2:${BYID}`,
    cameras: [c920()],
    spec: { width: 1024, height: 576, fps: 30 },
    wall: true,
    want: { encoded: false, wallClock: true, filter: 'scale=1024:576', description: `v4l2 ${BYID} mjpeg 1280x720@30` },
  },
  {
    name: 'v4l2 of an unplugged camera: no format known, FFmpeg picks its default',
    source: 'v4l2:/dev/video4',
    wall: true,
    want: {
      inputArgs: [
        ...WALL,
        '-f',
        'v4l2',
        '-thread_queue_size',
        '64',
        '-video_size',
        '1280x720',
        '-framerate',
        '30',
        '-i',
        '/dev/video4',
      ],
      encoded: false,
      wallClock: true,
      description: 'v4l2 /dev/video4 default 1280x720@30',
    },
  },
  {
    name: 'csi on a Pi 4 with libx264: rpicam-vid raw YUV420, full range converted',
    source: 'csi',
    board: PI4,
    wall: false,
    has: ['rpicam-vid'],
    want: {
      producer: { command: 'rpicam-vid', args: [...RPICAM_BASE, '--codec', 'yuv420', '-o', '-'] },
      inputArgs: RAW_PIPE,
      encoded: false,
      filter: 'scale=in_range=full:out_range=limited',
    },
  },
  {
    name: 'csi on a Bullseye Pi: only libcamera-vid exists',
    source: 'csi:0',
    board: PI4,
    wall: false,
    has: ['libcamera-vid'],
    want: { producer: { command: 'libcamera-vid', args: [...RPICAM_BASE, '--codec', 'yuv420', '-o', '-'] } },
  },
  {
    name: 'csi on a Pi 4 with rpicam-h264: the hardware encoder inside rpicam-vid, FFmpeg copies',
    source: 'csi',
    board: PI4,
    wall: false,
    encoder: RPICAM,
    settings: { bitrateKbps: 3000, keyframeSeconds: 2 },
    has: ['rpicam-vid'],
    want: {
      producer: {
        command: 'rpicam-vid',
        args: [
          ...RPICAM_BASE,
          '--codec',
          'h264',
          '--inline',
          '--intra',
          '60',
          '--bitrate',
          '3000000',
          '--profile',
          'high',
          '--level',
          '4.2',
          '-o',
          '-',
        ],
      },
      inputArgs: H264_PIPE,
      encoded: true,
      description: 'csi:0 rpicam-vid 1280x720@30 h264 (camera-side encoder)',
    },
  },
  {
    name: 'csi:1 on a Pi 5: raw from rpicam-vid (no encoder on the board)',
    source: 'csi:1',
    board: PI5,
    wall: false,
    has: ['rpicam-vid'],
    want: { inputArgs: RAW_PIPE, encoded: false, description: 'csi:1 rpicam-vid 1280x720@30 yuv420' },
  },
  {
    name: 'csi:1 on an Orin Nano: Argus through nvvidconv as raw I420',
    source: 'csi:1',
    board: NANO,
    wall: false,
    want: {
      producer: {
        command: 'gst-launch-1.0',
        args: [...ARGUS, '!', 'nvvidconv', '!', 'video/x-raw,format=I420', '!', 'fdsink', 'fd=1'],
      },
      inputArgs: RAW_PIPE,
      encoded: false,
    },
  },
  {
    name: 'csi:1 on a Xavier with nvv4l2h264enc: NVENC in GStreamer, every I-frame an IDR with SPS/PPS',
    source: 'csi:1',
    board: XAVIER,
    wall: false,
    encoder: NVENC,
    want: {
      producer: {
        command: 'gst-launch-1.0',
        args: [
          ...ARGUS,
          '!',
          'nvv4l2h264enc',
          'insert-sps-pps=1',
          'iframeinterval=30',
          'idrinterval=30',
          'bitrate=2500000',
          '!',
          'h264parse',
          '!',
          'video/x-h264,stream-format=byte-stream',
          '!',
          'fdsink',
          'fd=1',
        ],
      },
      inputArgs: H264_PIPE,
      encoded: true,
    },
  },
  {
    name: 'rtsp camera over TCP (the supervisor redacts the description where it leaves the agent)',
    source: 'rtsp://admin:secret@192.168.1.64:554/Streaming/Channels/101',
    wall: true,
    want: {
      inputArgs: [
        ...WALL,
        '-rtsp_transport',
        'tcp',
        '-i',
        'rtsp://admin:secret@192.168.1.64:554/Streaming/Channels/101',
      ],
      encoded: false,
      wallClock: true,
      description: 'rtsp rtsp://admin:secret@192.168.1.64:554/Streaming/Channels/101',
    },
  },
  {
    name: 'http MJPEG camera',
    source: 'http://10.0.0.5/video.mjpg',
    wall: true,
    want: {
      inputArgs: [...WALL, '-i', 'http://10.0.0.5/video.mjpg'],
      encoded: false,
      wallClock: true,
      description: 'http http://10.0.0.5/video.mjpg',
    },
  },
  {
    name: 'file: URL loops in real time as a live camera, on its own timestamps (-re paces by them)',
    source: 'file:///var/lib/clips/gate%20cam.mp4',
    wall: false,
    want: { inputArgs: ['-re', '-stream_loop', '-1', '-i', '/var/lib/clips/gate cam.mp4'], encoded: false },
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const has = (name: string): boolean => (c.has ?? []).includes(name);
    const got = captureInput(
      c.source,
      c.spec ?? SPEC,
      c.encoder ?? X264,
      c.board ?? PC,
      c.cameras ?? [],
      c.settings ?? SETTINGS,
      { hasCommand: has },
    );
    t.match(got, c.want);
    if (c.want.inputArgs) t.same(got.inputArgs, c.want.inputArgs);
    if (c.want.producer) t.same(got.producer, c.want.producer);
    if (!('filter' in c.want) && !c.source.startsWith('csi')) t.equal(got.filter, undefined, 'no filter unless needed');
    t.equal(got.inputArgs.at(-2), '-i', 'input arguments end in -i <url>');
    if (c.wall) {
      t.equal(got.wallClock, true, 'wall-clock captures stamp packets on arrival');
      t.same(got.inputArgs.slice(0, 2), WALL, '-use_wallclock_as_timestamps 1 comes first');
      t.ok(got.inputArgs.indexOf('-use_wallclock_as_timestamps') < got.inputArgs.indexOf('-i'), 'and before -i');
    } else {
      t.notOk(got.wallClock, 'no wall clock');
      t.notOk(got.inputArgs.includes('-use_wallclock_as_timestamps'), 'no -use_wallclock_as_timestamps');
    }
  });
}

const errors: Array<{ name: string; source: string; board?: BoardInfo; encoder?: EncoderCandidate; message: RegExp }> =
  [
    {
      name: 'csi on a PC is refused',
      source: 'csi',
      message: /needs a raspberry pi or jetson board, this is Intel NUC/,
    },
    {
      name: 'a producer encoder with a USB camera is refused',
      source: 'v4l2:/dev/video0',
      board: PI4,
      encoder: RPICAM,
      message: /runs inside a csi camera producer/,
    },
    {
      name: 'rpicam-h264 on a Jetson is refused',
      source: 'csi',
      board: XAVIER,
      encoder: RPICAM,
      message: /cannot run on NVIDIA Jetson Xavier/,
    },
    { name: 'v4l2 without a /dev path is refused', source: 'v4l2:video0', message: /must name a device under \/dev/ },
    {
      name: 'an unknown scheme is refused, listing what is allowed',
      source: 'smb://nas/cam',
      message: /unknown camera source smb:\/\/nas\/cam: use auto, test/,
    },
  ];

for (const c of errors) {
  t.test(c.name, async (t) => {
    t.throws(
      () => captureInput(c.source, SPEC, c.encoder ?? X264, c.board ?? PC, [], SETTINGS, { hasCommand: () => true }),
      {
        code: 'source_unavailable',
        message: c.message,
      },
    );
  });
}

t.test('without settings, a producer encoder gets the config defaults (2500 kb/s, 1-s keyframes)', async (t) => {
  const got = captureInput('csi', SPEC, RPICAM, PI4, [], undefined, { hasCommand: () => true });
  t.match(got.producer?.args.join(' '), /--intra 30 --bitrate 2500000/);
});

t.test('the test pattern is paced to real time in microseconds, so wall-clock stamps never collide', async (t) => {
  const got = captureInput('test', SPEC, X264, PC, [], SETTINGS, { hasCommand: () => false });
  t.same(got.inputArgs.slice(0, 4), [...WALL, '-f', 'lavfi']);
  t.match(got.inputArgs.at(-1), /^testsrc2=size=1280x720:rate=30,.*,realtime,.*,settb=AVTB$/);
});

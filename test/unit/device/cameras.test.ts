import t, { type Test } from 'tap';
import { chooseV4l2Format, listCameras, parseUvcVersion, type Camera } from '../../../device/cameras.js';
import { parseFormats } from '../../../device/v4l2ctl.js';
import { fakeV4l2Ctl, recorded } from '../../fixtures/device/v4l2/fake-v4l2ctl.js';

/** Raw USB descriptors of a UVC camera: device, config, IAD, VideoControl interface, VC header. */
function uvcDescriptors(bcdUVC: number): Buffer {
  const device = [18, 0x01, 0x00, 0x02, 0xef, 0x02, 0x01, 64, 0x6d, 0x04, 0x2d, 0x08, 0x11, 0x00, 0, 2, 1, 1];
  const config = [9, 0x02, 0x00, 0x00, 4, 1, 0, 0x80, 250];
  const iad = [8, 0x0b, 0, 2, 0x0e, 0x03, 0x00, 2];
  const audioIface = [9, 0x04, 5, 0, 0, 0x01, 0x01, 0, 0]; // an audio interface first: not video control
  const fakeHeaderInAudio = [9, 0x24, 0x01, 0x00, 0x01, 0, 0, 0, 0];
  const vcIface = [9, 0x04, 0, 0, 1, 0x0e, 0x01, 0x00, 2];
  const vcHeader = [13, 0x24, 0x01, bcdUVC & 0xff, bcdUVC >> 8, 0x6f, 0, 0x80, 0xc3, 0xc9, 0x01, 1, 1];
  return Buffer.from([...device, ...config, ...audioIface, ...fakeHeaderInAudio, ...iad, ...vcIface, ...vcHeader]);
}

const USB_IF = 'devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0';

/** A Pi 4 with a C920 on USB: its capture and metadata nodes, and the Pi's codec and ISP nodes. */
function pi4Tree(t: Test, bcdUVC = 0x0110): string {
  const usbLink = t.fixture('symlink', `../../../${USB_IF}`);
  const platformLink = (dev: string) => t.fixture('symlink', `../../../devices/platform/soc/${dev}`);
  return t.testdir({
    sys: {
      devices: {
        'pci0000:00': { '0000:00:14.0': { usb1: { '1-2': { descriptors: uvcDescriptors(bcdUVC), '1-2:1.0': {} } } } },
        platform: { soc: { 'bcm2835-codec': {}, 'bcm2835-isp': {} } },
      },
      class: {
        video4linux: {
          video0: { name: 'HD Pro Webcam C920\n', index: '0\n', device: usbLink },
          video1: { name: 'HD Pro Webcam C920\n', index: '1\n', device: usbLink },
          video10: { name: 'bcm2835-codec-decode\n', index: '0\n', device: platformLink('bcm2835-codec') },
          video11: { name: 'bcm2835-codec-encode\n', index: '0\n', device: platformLink('bcm2835-codec') },
          video13: { name: 'bcm2835-isp\n', index: '0\n', device: platformLink('bcm2835-isp') },
          'v4l-subdev0': { name: 'imx219 10-0010\n' },
        },
      },
    },
    dev: {
      v4l: {
        'by-id': {
          'usb-046d_HD_Pro_Webcam_C920_8B1C2A3F-video-index0': t.fixture('symlink', '../../video0'),
          'usb-046d_HD_Pro_Webcam_C920_8B1C2A3F-video-index1': t.fixture('symlink', '../../video1'),
        },
      },
    },
  });
}

t.test('a Pi 4 with a UVC webcam: one camera, metadata and platform nodes skipped', async (t) => {
  const root = pi4Tree(t);
  const fake = fakeV4l2Ctl({ '/dev/video0': 'uvc-c920', '/dev/video1': 'uvc-c920-meta' });
  const cameras = await listCameras({ sysRoot: `${root}/sys`, devRoot: `${root}/dev`, run: fake.run });
  t.equal(cameras.length, 1);
  const cam = cameras[0]!;
  t.equal(cam.device, '/dev/video0');
  t.equal(cam.byId, '/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_8B1C2A3F-video-index0');
  t.equal(cam.name, 'HD Pro Webcam C920');
  t.equal(cam.driver, 'uvcvideo');
  t.equal(cam.uvcVersion, '1.10');
  t.same(
    cam.formats.map((f) => f.fourcc),
    ['YUYV', 'H264', 'MJPG'],
  );
  // The platform nodes are never even asked about.
  t.notOk(
    fake.calls.some((c) => c.includes('/dev/video10') || c.includes('/dev/video11') || c.includes('/dev/video13')),
  );
});

t.test('without v4l2-ctl: sysfs index 0 nodes are kept with no formats', async (t) => {
  const root = pi4Tree(t);
  const run = async (): Promise<never> => {
    throw Object.assign(new Error('spawn v4l2-ctl ENOENT'), { code: 'ENOENT' });
  };
  const cameras = await listCameras({ sysRoot: `${root}/sys`, devRoot: `${root}/dev`, run });
  t.same(
    cameras.map((c) => [c.device, c.formats.length]),
    [['/dev/video0', 0]],
  );
});

t.test('no video4linux class at all (a server without cameras) lists nothing', async (t) => {
  const root = t.testdir({});
  t.same(await listCameras({ sysRoot: root, devRoot: root, run: fakeV4l2Ctl({}).run }), []);
});

t.test('parseUvcVersion reads bcdUVC only from the video control header', async (t) => {
  t.equal(parseUvcVersion(uvcDescriptors(0x0100)), '1.00');
  t.equal(parseUvcVersion(uvcDescriptors(0x0150)), '1.50');
  t.equal(parseUvcVersion(Buffer.from([9, 0x04, 0, 0, 1, 0x03, 0, 0, 0])), undefined);
  t.equal(parseUvcVersion(Buffer.from([0, 0, 0])), undefined);
});

const c920 = (uvcVersion?: string): Camera => ({
  device: '/dev/video0',
  name: 'HD Pro Webcam C920',
  formats: parseFormats(recorded('uvc-c920-formats.txt')),
  ...(uvcVersion ? { uvcVersion } : {}),
});

const choices: Array<{
  name: string;
  camera: Camera;
  spec: { width: number; height: number; fps: number };
  want: string | undefined;
}> = [
  {
    name: '720p30 on a UVC 1.1 camera takes camera H.264',
    camera: c920('1.10'),
    spec: { width: 1280, height: 720, fps: 30 },
    want: 'H264 h264 1280x720@30',
  },
  {
    name: '720p30 with an unknown UVC version prefers MJPEG over H.264',
    camera: c920(),
    spec: { width: 1280, height: 720, fps: 30 },
    want: 'MJPG mjpeg 1280x720@30',
  },
  {
    name: '720p30 on UVC 1.0: MJPEG, since YUYV 720p only does 10 fps',
    camera: c920('1.00'),
    spec: { width: 1280, height: 720, fps: 30 },
    want: 'MJPG mjpeg 1280x720@30',
  },
  {
    name: '1080p30: MJPEG at exactly the size',
    camera: c920(),
    spec: { width: 1920, height: 1080, fps: 30 },
    want: 'MJPG mjpeg 1920x1080@30',
  },
  {
    name: '640x480@30 below 720p prefers raw YUYV',
    camera: c920(),
    spec: { width: 640, height: 480, fps: 30 },
    want: 'YUYV yuyv422 640x480@30',
  },
  {
    name: '1280x720@25: the lowest rate at or above wanted (30, not 60)',
    camera: c920(),
    spec: { width: 1280, height: 720, fps: 25 },
    want: 'MJPG mjpeg 1280x720@30',
  },
  {
    name: '1024x576: the closest bigger size (1280x720)',
    camera: c920(),
    spec: { width: 1024, height: 576, fps: 30 },
    want: 'MJPG mjpeg 1280x720@30',
  },
  {
    name: '720p60: only MJPEG 720p offers 60',
    camera: c920(),
    spec: { width: 1280, height: 720, fps: 60 },
    want: 'MJPG mjpeg 1280x720@60',
  },
  {
    name: '4K30 wanted: nothing that big, the largest size at the rate',
    camera: c920(),
    spec: { width: 3840, height: 2160, fps: 30 },
    want: 'MJPG mjpeg 1920x1080@30',
  },
  {
    name: '1080p120 wanted: nothing that fast, the largest size at its fastest',
    camera: c920(),
    spec: { width: 1920, height: 1080, fps: 120 },
    want: 'MJPG mjpeg 1920x1080@30',
  },
  {
    name: 'a camera with no formats known (no v4l2-ctl) gives no choice',
    camera: { device: '/dev/video0', name: 'x', formats: [] },
    spec: { width: 1280, height: 720, fps: 30 },
    want: undefined,
  },
  {
    name: 'an NV12-only capture card is used as it is',
    camera: { device: '/dev/video2', name: 'card', formats: parseFormats(recorded('stepwise-formats.txt')).slice(1) },
    spec: { width: 1280, height: 720, fps: 30 },
    want: 'NV12 nv12 1280x720@30',
  },
];

for (const c of choices) {
  t.test(c.name, async (t) => {
    const got = chooseV4l2Format(c.camera, c.spec);
    t.equal(got && `${got.fourcc} ${got.inputFormat} ${got.width}x${got.height}@${got.fps}`, c.want);
  });
}

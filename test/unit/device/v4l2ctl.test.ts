import t from 'tap';
import { parseDeviceInfo, parseFormats } from '../../../device/v4l2ctl.js';
import { recorded } from '../../fixtures/device/v4l2/fake-v4l2ctl.js';

t.test('a UVC capture node: Device Caps has Video Capture, not the whole-device Capabilities', async (t) => {
  const info = parseDeviceInfo(recorded('uvc-c920-D.txt'));
  t.same(info, {
    driver: 'uvcvideo',
    card: 'HD Pro Webcam C920',
    busInfo: 'usb-0000:00:14.0-2',
    deviceCaps: ['Video Capture', 'Streaming', 'Extended Pix Format'],
  });
});

t.test('a UVC metadata node has Metadata Capture only', async (t) => {
  const info = parseDeviceInfo(recorded('uvc-c920-meta-D.txt'));
  t.same(info.deviceCaps, ['Metadata Capture', 'Streaming', 'Extended Pix Format']);
});

t.test('discrete formats: fourccs, sizes and rates highest first', async (t) => {
  const formats = parseFormats(recorded('uvc-c920-formats.txt'));
  t.same(
    formats.map((f) => f.fourcc),
    ['YUYV', 'H264', 'MJPG'],
  );
  const mjpg = formats[2]!;
  t.same(
    mjpg.sizes.find((s) => s.width === 1280),
    { width: 1280, height: 720, fps: [60, 30, 15] },
  );
  t.same(formats[0]!.sizes[0], { width: 640, height: 480, fps: [30, 24, 20, 15, 10, 7.5, 5] });
});

t.test('a metadata node lists no capture formats', async (t) => {
  t.same(parseFormats(recorded('uvc-c920-meta-formats.txt')), []);
});

t.test('stepwise and continuous ranges become the common sizes and rates inside them', async (t) => {
  const [yuyv, nv12] = parseFormats(recorded('stepwise-formats.txt'));
  t.same(
    yuyv!.sizes.map((s) => `${s.width}x${s.height}`),
    ['320x240', '640x480', '800x600', '1280x720', '1920x1080'],
  );
  t.same(yuyv!.sizes[0]!.fps, [30, 25, 24, 20, 15, 10, 5]);
  t.same(nv12!.sizes.at(-1), { width: 1280, height: 720, fps: [60, 50, 30, 25, 24, 20, 15, 10, 5] });
});

t.test('empty or foreign text parses to nothing', async (t) => {
  t.same(parseFormats(''), []);
  t.same(parseDeviceInfo('Failed to open /dev/video9: No such file or directory\n'), { deviceCaps: [] });
});

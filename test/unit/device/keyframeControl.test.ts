import t from 'tap';
import { parseIntControls, requestKeyframeInterval } from '../../../device/keyframeControl.js';
import type { Camera } from '../../../device/cameras.js';
import type { CommandRunner } from '../../../agent/util/run.js';
import { v4l2Input } from '../../../device/sources/v4l2.js';
import { recorded } from '../../fixtures/device/v4l2/fake-v4l2ctl.js';

/** A v4l2-ctl stand-in: --list-ctrls answers `listing`; every call is recorded. */
function fakeCtl(listing: string, setFails = false): { run: CommandRunner; calls: string[][] } {
  const calls: string[][] = [];
  const run: CommandRunner = async (command, args) => {
    calls.push([command, ...args]);
    if (args.includes('--list-ctrls')) return { code: 0, signal: null, stdout: listing, stderr: '', timedOut: false };
    return setFails
      ? {
          code: 255,
          signal: null,
          stdout: '',
          stderr: 'VIDIOC_S_EXT_CTRLS: failed: Input/output error',
          timedOut: false,
        }
      : { code: 0, signal: null, stdout: '', stderr: '', timedOut: false };
  };
  return { run, calls };
}

t.test('parseIntControls reads the integer controls with their range and value', async (t) => {
  const controls = parseIntControls(recorded('uvc15-h264-ctrls.txt'));
  t.same(
    controls.find((c) => c.name === 'h264_i_frame_period'),
    { name: 'h264_i_frame_period', min: 1, max: 300, value: 60 },
  );
  t.notOk(
    controls.some((c) => c.name === 'video_bitrate_mode'),
    'menus are not integers',
  );
  t.ok(
    parseIntControls(recorded('uvc-c920-ctrls.txt')).some((c) => c.name === 'zoom_absolute' && c.min === 100),
    'flags after the value are fine',
  );
});

t.test('a UVC 1.5 camera with h264_i_frame_period: asked for one keyframe per segment', async (t) => {
  const { run, calls } = fakeCtl(recorded('uvc15-h264-ctrls.txt'));
  t.same(await requestKeyframeInterval('/dev/video2', 30 * 1, run), { control: 'h264_i_frame_period', frames: 30 });
  t.same(calls.at(-1), ['v4l2-ctl', '-d', '/dev/video2', '--set-ctrl=h264_i_frame_period=30']);
  t.same(
    await requestKeyframeInterval('/dev/video2', 15 * 60, run),
    { control: 'h264_i_frame_period', frames: 300 },
    "clamped to the control's range",
  );
});

t.test('already set: nothing written', async (t) => {
  const { run, calls } = fakeCtl(recorded('uvc15-h264-ctrls.txt'));
  t.same(await requestKeyframeInterval('/dev/video2', 60, run), { control: 'h264_i_frame_period', frames: 60 });
  t.equal(calls.length, 1, 'only the listing');
});

t.test(
  'a camera without the control (C920-style extension unit), a failing set, no v4l2-ctl: nothing set, a reason',
  async (t) => {
    const none = fakeCtl(recorded('uvc-c920-ctrls.txt'));
    t.match(await requestKeyframeInterval('/dev/video0', 30, none.run), {
      control: null,
      reason: /no keyframe-period control/,
    });
    t.equal(none.calls.length, 1);
    t.match(await requestKeyframeInterval('/dev/video2', 30, fakeCtl(recorded('uvc15-h264-ctrls.txt'), true).run), {
      control: null,
      reason: /Input\/output error/,
    });
    const missing: CommandRunner = async () => {
      throw Object.assign(new Error('spawn v4l2-ctl ENOENT'), { code: 'ENOENT' });
    };
    t.match(await requestKeyframeInterval('/dev/video2', 30, missing), { control: null, reason: /cannot run/ });
  },
);

t.test('v4l2Input: copied camera H.264 prepares the keyframe spacing; raw capture does not', async (t) => {
  const camera = {
    device: '/dev/video2',
    name: 'UVC 1.5 H.264 camera',
    uvcVersion: '1.50',
    formats: [{ fourcc: 'H264', description: 'H.264', sizes: [{ width: 1280, height: 720, fps: [30] }] }],
  };
  const { run, calls } = fakeCtl(recorded('uvc15-h264-ctrls.txt'));
  const input = v4l2Input('/dev/video2', { width: 1280, height: 720, fps: 30 }, camera as Camera, 2, run);
  t.equal(input.encoded, true);
  t.match(await input.prepare!(), /camera keyframe every 60 frames \(h264_i_frame_period\)/, '2-s segments at 30 fps');
  t.same(calls.length, 1, 'already 60: nothing written');
  const raw = v4l2Input('/dev/video0', { width: 640, height: 480, fps: 30 }, undefined, 1, run);
  t.equal(raw.prepare, undefined);
});

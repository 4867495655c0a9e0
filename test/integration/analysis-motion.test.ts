/**
 * The motion meter fed by the real pipeline: a CameraSupervisor given `meters.forCamera(camera)`
 * as its `motion` dep writes grey frames on FFmpeg's fd 3 and the meter scores each second; also
 * when FFmpeg only copies a camera-side encoder's H.264 (the Jetson producer stand-in).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { CaptureInput } from '../../device/types.js';
import { argusInput } from '../../device/sources/csi.js';
import { waitFor } from '../helpers/waitFor.js';
import { fakeGstLaunch } from '../helpers/standins.js';
import { MotionMeters } from '../../agent/analysis/motion.js';
import { CameraSupervisor } from '../../agent/pipeline/supervisor.js';
import { supervisorSetup } from '../helpers/supervisorSetup.js';
import { EventBus } from '../../agent/util/bus.js';
import { silentLogger } from '../../agent/util/logger.js';
import { testPatternInput } from '../../device/sources/test.js';
import type { CameraConfig } from '../../agent/config/types.js';
import type { EncoderCandidate } from '../../device/types.js';

async function meterScores(
  t: Test,
  dir: string,
  capture: (camera: CameraConfig) => CaptureInput,
  encoder: EncoderCandidate,
): Promise<void> {
  const { camera, config } = supervisorSetup(dir, 600);
  const meters = new MotionMeters();
  const meter = meters.forCamera(camera);
  t.match(meter, { width: 160, height: 120, fps: 4 });
  const supervisor = new CameraSupervisor({
    camera,
    config: () => config,
    bus: new EventBus(),
    log: silentLogger(),
    encoders: [encoder],
    resolveCapture: async (cam) => capture(cam),
    clockSynced: async () => true,
    motion: meter,
  });
  const started = Date.now();
  await supervisor.start();
  t.teardown(() => supervisor.stop());
  const scored = () =>
    meters
      .timelineFor('cam1', started, Date.now())!
      .map((s) => s.score)
      .filter((s): s is number => s !== null);
  await waitFor('5 seconds scored', () => scored().length >= 5, 60_000);
  const scores = scored();
  await supervisor.stop();
  t.ok(meter.frames >= 12, `${meter.frames} grey frames at 4 fps`);
  t.ok(Math.max(...scores) > 0.01, `moving pattern: ${scores.map((s) => s.toFixed(3)).join(' ')}`);
}

t.test("the pipeline's grey frames reach the meter; the moving test pattern scores above the still threshold", (t) =>
  meterScores(t, t.testdir(), (cam) => testPatternInput(cam), { name: 'libx264', where: 'ffmpeg' }),
);

const NO_GST =
  spawnSync('gst-launch-1.0', ['--version']).status === 0
    ? false
    : 'GStreamer is not installed (test/setup-machine.sh installs it)';

t.test(
  'copied camera-side H.264 (Jetson producer stand-in) is decoded for the meter alone',
  { skip: NO_GST },
  async (t) => {
    const dir = t.testdir();
    const bin = path.join(dir, 'bin');
    fakeGstLaunch(bin, 'motion-copy');
    const restore = process.env.PATH;
    process.env.PATH = `${bin}:${restore ?? ''}`;
    t.teardown(() => void (process.env.PATH = restore));
    const nvenc: EncoderCandidate = { name: 'nvv4l2h264enc', where: 'producer' };
    await meterScores(t, dir, (cam) => argusInput(0, cam, nvenc, { bitrateKbps: 400, keyframeSeconds: 1 }), nvenc);
  },
);

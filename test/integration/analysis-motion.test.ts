/**
 * The motion meter fed by the real pipeline: a CameraSupervisor given `meters.forCamera(camera)`
 * as its `motion` dep writes grey frames on FFmpeg's fd 3 and the meter scores each second.
 */
import t from 'tap';
import { MotionMeters } from '../../agent/analysis/motion.js';
import { CameraSupervisor } from '../../agent/pipeline/supervisor.js';
import { supervisorSetup } from '../helpers/supervisorSetup.js';
import { EventBus } from '../../agent/util/bus.js';
import { silentLogger } from '../../agent/util/logger.js';
import { testPatternInput } from '../../device/sources/test.js';

t.test('the pipeline\'s grey frames reach the meter; the moving test pattern scores above the still threshold', async (t) => {
  const dir = t.testdir();
  const { camera, config } = supervisorSetup(dir, 600);
  const meters = new MotionMeters();
  const meter = meters.forCamera(camera);
  t.match(meter, { width: 160, height: 120, fps: 4 });
  const supervisor = new CameraSupervisor({
    camera,
    config,
    bus: new EventBus(),
    log: silentLogger(),
    encoders: [{ name: 'libx264', where: 'ffmpeg' }],
    resolveCapture: async (cam) => testPatternInput(cam),
    clockSynced: async () => true,
    motion: meter,
  });
  const started = Date.now();
  await supervisor.start();
  t.teardown(() => supervisor.stop());
  await new Promise((r) => setTimeout(r, 5000));
  const timeline = meters.timelineFor('cam1', started, Date.now())!;
  await supervisor.stop();
  t.ok(meter.frames >= 10, `${meter.frames} frames at 4 fps in ~5 s`);
  const scores = timeline.map((s) => s.score).filter((s): s is number => s !== null);
  t.ok(scores.length >= 3, 'most seconds measured');
  t.ok(Math.max(...scores) > 0.01, `moving pattern: ${scores.map((s) => s.toFixed(3)).join(' ')}`);
});

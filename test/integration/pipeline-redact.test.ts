/**
 * Issue 15: an IP camera's password leaked into the retained R/health (the source in each camera's
 * stats), R/events (camera.lost's source and reason) and the journal, and query-string passwords
 * were never redacted. A real FFmpeg is pointed at a closed port with credentials in both places.
 */
import t from 'tap';
import type { CameraConfig } from '../../agent/config/types.js';
import { CameraSupervisor } from '../../agent/pipeline/supervisor.js';
import { EventBus } from '../../agent/util/bus.js';
import { silentLogger } from '../../agent/util/logger.js';
import { urlInput } from '../../device/sources/url.js';
import { waitFor } from '../helpers/waitFor.js';
import { freePort } from '../helpers/mosquitto.js';
import { supervisorSetup } from '../helpers/supervisorSetup.js';

t.test('camera.lost, pipeline events and stats never carry the camera password or token', async (t) => {
  const dir = t.testdir();
  const port = await freePort();
  const { config } = supervisorSetup(dir, 4);
  const camera: CameraConfig = {
    id: 'cam1',
    source: `rtsp://admin:camsecret@127.0.0.1:${port}/live?channel=1&token=tok123`,
    width: 320,
    height: 240,
    fps: 15,
  };
  const bus = new EventBus();
  const events: unknown[] = [];
  for (const type of ['camera.lost', 'pipeline.started', 'pipeline.restarted'] as const)
    bus.on(type, (e) => void events.push({ ...e, type }));
  const supervisor = new CameraSupervisor({
    camera,
    config: () => ({ ...config, cameras: [camera] }),
    bus,
    log: silentLogger(),
    encoders: [{ name: 'libx264', where: 'ffmpeg' }],
    resolveCapture: async (cam) => urlInput(cam.source),
    clockSynced: async () => true,
    timing: { backoffInitialMs: 200, backoffMaxMs: 500, startGraceSeconds: 5 },
  });
  await supervisor.start();
  t.teardown(() => supervisor.stop());
  await waitFor('camera.lost', () => events.some((e) => (e as { type: string }).type === 'camera.lost'), 30_000, 50);
  const stats = supervisor.stats();
  const shown = JSON.stringify({ events, stats });
  t.notMatch(shown, /camsecret|tok123/, 'no secret in events or stats');
  t.match(
    stats,
    { source: `rtsp://admin:[redacted]@127.0.0.1:${port}/live?channel=1&token=[redacted]` },
    'the source is still recognisable',
  );
  t.match(
    events.find((e) => (e as { type: string }).type === 'camera.lost'),
    { source: /\[redacted\]/, reason: String },
  );
  await supervisor.stop();
});

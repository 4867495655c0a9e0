import { access } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { listCameras, type Camera } from '../../../device/cameras.js';
import type { CameraConfig } from '../../config/types.js';
import { fail, ok, warn, type CheckResult, type DoctorContext } from '../types.js';
import { redactSecrets } from '../../util/redact.js';

const LIST = '`v4l2-ctl --list-devices` (package v4l-utils)';

/** The devices `auto` could pick, read from the (injectable) root. */
async function scan(ctx: DoctorContext): Promise<Camera[]> {
  return listCameras({ sysRoot: path.join(ctx.root, 'sys'), devRoot: path.join(ctx.root, 'dev'), run: ctx.run }).catch(
    () => [],
  );
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** One configured camera's source is there (or, for `auto`, what it will fall back to). */
async function checkOne(ctx: DoctorContext, cam: CameraConfig, found: () => Promise<Camera[]>): Promise<CheckResult> {
  const name = `camera ${cam.id}`;
  const { source } = cam;
  if (source === 'test') return ok(name, 'test pattern (configured)');
  if (source === 'auto') {
    const cameras = await found();
    if (cameras[0]) return ok(name, `auto: ${cameras[0].name} at ${cameras[0].byId ?? cameras[0].device}`);
    return warn(
      name,
      'auto: no V4L2 camera found, falling back to the test pattern',
      `plug in a USB camera and look for it with ${LIST}`,
    );
  }
  if (source.startsWith('v4l2:')) {
    const device = source.slice('v4l2:'.length);
    if (!(await exists(path.join(ctx.root, device)))) {
      return fail(
        name,
        `${device} does not exist`,
        `check the camera's cable and power and look for it with ${LIST}; or set cameras[].source to auto`,
      );
    }
    const match = (await found()).find((c) => c.device === device || c.byId === device);
    return match
      ? ok(name, `${match.name} at ${device}`)
      : warn(name, `${device} exists but is not a video capture camera`, `pick the capture node: ${LIST}`);
  }
  if (/^csi(:\d+)?$/.test(source)) {
    const producer = ['rpicam-vid', 'libcamera-vid', 'gst-launch-1.0'].find((p) => ctx.hasCommand(p));
    return producer
      ? ok(name, `${source} via ${producer} (not opened: the agent may hold the camera)`)
      : fail(
          name,
          `${source} needs rpicam-vid (Pi) or gst-launch-1.0 with nvarguscamerasrc (Jetson)`,
          'sudo apt-get install rpicam-apps-lite (Pi); JetPack ships GStreamer',
        );
  }
  if (source.startsWith('file:')) {
    const file = fileURLToPath(source);
    return (await exists(file))
      ? ok(name, `file ${file}`)
      : fail(name, `${file} does not exist`, 'fix cameras[].source');
  }
  return ok(name, `${redactSecrets(source)} (network camera, not contacted)`);
}

/** Every configured camera's source. */
export async function checkCameras(ctx: DoctorContext): Promise<CheckResult[]> {
  let cached: Promise<Camera[]> | null = null;
  const found = () => (cached ??= scan(ctx));
  if (ctx.config.cameras.length === 0)
    return [warn('cameras', 'no camera configured', 'add one to cameras[] in the config')];
  return Promise.all(ctx.config.cameras.map((cam) => checkOne(ctx, cam, found)));
}

import { chooseV4l2Format, type Camera } from '../cameras.js';
import { requestKeyframeInterval } from '../keyframeControl.js';
import type { CommandRunner } from '../../agent/util/run.js';
import type { CaptureInput, CaptureSpec } from '../types.js';

/**
 * A V4L2 camera read by FFmpeg's own v4l2 demuxer (no frame passes through Node). `device` is
 * what the config names (a by-id path survives replugging); `camera` is what the scan found
 * about it, if anything: an unplugged camera still gets arguments, and the supervisor retries.
 */
export function v4l2Input(
  device: string,
  spec: CaptureSpec,
  camera: Camera | undefined,
  keyframeSeconds = 1,
  run?: CommandRunner,
): CaptureInput {
  const choice = camera ? chooseV4l2Format(camera, spec) : undefined;
  const want = choice ?? { inputFormat: undefined, ...spec };
  const args = [
    '-use_wallclock_as_timestamps',
    '1',
    '-f',
    'v4l2',
    // MJPEG frames arrive in bursts on a busy USB bus; a deeper queue keeps the demuxer from blocking.
    '-thread_queue_size',
    '64',
    ...(want.inputFormat ? ['-input_format', want.inputFormat] : []),
    '-video_size',
    `${want.width}x${want.height}`,
    '-framerate',
    String(want.fps),
    '-i',
    device,
  ];
  const result: CaptureInput = {
    inputArgs: args,
    // Camera H.264 is copied, never re-encoded: that is the whole point of choosing it.
    encoded: choice?.inputFormat === 'h264',
    wallClock: true,
    description: `v4l2 ${device} ${want.inputFormat ?? 'default'} ${want.width}x${want.height}@${want.fps}`,
  };
  const filter = fitFilter(want, spec);
  if (filter && !result.encoded) result.filter = filter;
  if (result.encoded) {
    // The camera's own GOP decides where archives and HLS segments can be cut.
    result.prepare = async () => {
      const asked = await requestKeyframeInterval(device, want.fps * keyframeSeconds, run);
      return 'reason' in asked
        ? `camera keyframes left as they are: ${asked.reason}`
        : `camera keyframe every ${asked.frames} frames (${asked.control})`;
    };
  }
  return result;
}

/** Scale and/or drop frames when the camera could only offer a bigger size or a faster rate. */
export function fitFilter(got: CaptureSpec, spec: CaptureSpec): string | undefined {
  const parts: string[] = [];
  if (got.width !== spec.width || got.height !== spec.height) parts.push(`scale=${spec.width}:${spec.height}`);
  if (got.fps > spec.fps) parts.push(`fps=${spec.fps}`);
  return parts.length ? parts.join(',') : undefined;
}

/** The scanned camera a configured path refers to: by its by-id name or its /dev/videoN node. */
export function findCamera(device: string, cameras: Camera[]): Camera | undefined {
  return cameras.find((c) => c.byId === device || c.device === device);
}

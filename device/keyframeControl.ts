/**
 * Keyframe spacing for cameras that encode H.264 themselves (UVC 1.1/1.5): the archive and HLS
 * cuts can only fall on the camera's keyframes, so the agent asks for one every segment-length
 * of frames through the V4L2 control the driver exposes. Many UVC H.264 cameras expose none
 * (their encoder sits behind a vendor extension unit); then the cuts fall on the first keyframe
 * after each boundary and the archive is named by its actual start (see the finisher).
 */
import { runCommand, type CommandRunner } from '../agent/util/run.js';

/** The controls that set the keyframe period, most specific first (V4L2_CID_MPEG_VIDEO_H264_I_PERIOD, _GOP_SIZE). */
const KEYFRAME_CONTROLS = ['h264_i_frame_period', 'video_gop_size'] as const;

/** One integer control as `v4l2-ctl --list-ctrls` prints it. */
export interface IntControl {
  name: string;
  min: number;
  max: number;
  value: number;
}

/** The integer controls in `v4l2-ctl --list-ctrls` output. */
export function parseIntControls(text: string): IntControl[] {
  const controls: IntControl[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*([a-z0-9_]+)\s+0x[0-9a-f]+\s+\(int\)\s*:(.*)$/i.exec(line);
    if (!m) continue;
    const field = (key: string) => Number(new RegExp(`\\b${key}=(-?\\d+)`).exec(m[2]!)?.[1]);
    const [min, max, value] = [field('min'), field('max'), field('value')];
    if ([min, max, value].every(Number.isFinite)) controls.push({ name: m[1]!, min, max, value });
  }
  return controls;
}

/** What was asked of the camera: the control set and to what, or why nothing was. */
export type KeyframeRequest = { control: string; frames: number } | { control: null; reason: string };

/**
 * Asks the camera at `device` for a keyframe every `frames` frames (clamped to the control's
 * range) through the first keyframe control it has. Never throws: a camera that cannot is
 * recorded anyway, cut on its own keyframes.
 */
export async function requestKeyframeInterval(
  device: string,
  frames: number,
  run: CommandRunner = runCommand,
): Promise<KeyframeRequest> {
  try {
    const listed = await run('v4l2-ctl', ['-d', device, '--list-ctrls'], { timeoutMs: 5000 });
    if (listed.code !== 0)
      return {
        control: null,
        reason: `v4l2-ctl --list-ctrls failed: ${listed.stderr.trim() || `exit ${listed.code}`}`,
      };
    const controls = parseIntControls(listed.stdout);
    const control = KEYFRAME_CONTROLS.map((name) => controls.find((c) => c.name === name)).find((c) => c !== undefined);
    if (!control) return { control: null, reason: 'the camera has no keyframe-period control' };
    const wanted = Math.min(control.max, Math.max(control.min, Math.round(frames)));
    if (control.value !== wanted) {
      const set = await run('v4l2-ctl', ['-d', device, `--set-ctrl=${control.name}=${wanted}`], { timeoutMs: 5000 });
      if (set.code !== 0)
        return { control: null, reason: `setting ${control.name} failed: ${set.stderr.trim() || `exit ${set.code}`}` };
    }
    return { control: control.name, frames: wanted };
  } catch (error) {
    return { control: null, reason: `v4l2-ctl cannot run: ${(error as Error).message}` };
  }
}

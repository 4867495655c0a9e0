import type { CaptureInput, CaptureSpec } from '../types.js';

/**
 * The synthetic camera: a moving pattern with the UTC time burnt in, paced to real time by the
 * `realtime` filter (lavfi alone would run as fast as the CPU allows), stamped with the wall
 * clock like a real camera. settb: microsecond timestamps, or wall-clock times rounded to whole
 * frames would collide.
 */
export function testPatternInput(spec: CaptureSpec): CaptureInput {
  const fontSize = Math.max(12, Math.round(spec.height / 16));
  // drawtext's own escaping: ':' inside the strftime format is escaped twice (filter graph + option).
  const clock = `drawtext=text='%{gmtime\\:%Y-%m-%d %H\\\\\\:%M\\\\\\:%S}Z':fontsize=${fontSize}:fontcolor=white:box=1:boxcolor=black@0.6:x=8:y=8`;
  const graph = `testsrc2=size=${spec.width}x${spec.height}:rate=${spec.fps},${clock},realtime,settb=AVTB`;
  return {
    inputArgs: ['-use_wallclock_as_timestamps', '1', '-f', 'lavfi', '-i', graph],
    encoded: false,
    wallClock: true,
    description: `test pattern ${spec.width}x${spec.height}@${spec.fps}`,
  };
}

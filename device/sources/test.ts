import type { CaptureInput, CaptureSpec } from '../types.js';

/** Bits of the capture time the test pattern carries in its time band. */
export const TIME_BAND_BITS = 16;

/** Where the test pattern's time band sits: a row of TIME_BAND_BITS blocks along the bottom edge. */
export interface TimeBand {
  bits: number;
  /** Top edge of the band, in pixels. */
  y: number;
  blockWidth: number;
  blockHeight: number;
}

/**
 * The time band of a test pattern of this size. Each block is white when its bit of the capture
 * time (milliseconds since the epoch, modulo 2^16, least significant bit on the left) is set: a
 * page can read a displayed frame's capture time back from its pixels and measure glass to glass.
 */
export function timeBand(spec: CaptureSpec): TimeBand {
  const blockWidth = Math.floor(spec.width / TIME_BAND_BITS);
  const blockHeight = Math.max(8, Math.round(spec.height / 24));
  return { bits: TIME_BAND_BITS, y: spec.height - blockHeight, blockWidth, blockHeight };
}

/**
 * The band as filters. setpts puts the wall clock on each frame as it leaves the `realtime` pacer
 * (its capture); each block is a drawbox switched on per frame by its bit of that time. The
 * demuxer stamps the frame with the wall clock anyway (-use_wallclock_as_timestamps), so the
 * pipeline's timeline is unchanged.
 */
function timeBandFilters(spec: CaptureSpec): string {
  const band = timeBand(spec);
  const boxes = [
    `settb=AVTB,setpts=RTCTIME,drawbox=x=0:y=${band.y}:w=${band.blockWidth * band.bits}:h=${band.blockHeight}:color=black:t=fill`,
  ];
  for (let bit = 0; bit < band.bits; bit += 1) {
    // Inset by a pixel each side so neighbouring blocks never blur into each other.
    const box = `x=${bit * band.blockWidth + 1}:y=${band.y + 1}:w=${band.blockWidth - 2}:h=${band.blockHeight - 2}`;
    boxes.push(`drawbox=${box}:color=white:t=fill:enable='mod(floor(t*1000/${2 ** bit}),2)'`);
  }
  // Back to frame-count timestamps: FFmpeg guesses the stream's frame rate from them, and from
  // the jittery wall-clock ones it guessed 1,000,000 fps (libx264 then starved every frame).
  boxes.push('setpts=N/(FRAME_RATE*TB)');
  return boxes.join(',');
}

/**
 * The synthetic camera: a moving pattern with the UTC time burnt in (as text, and to the
 * millisecond in the time band), paced to real time by the `realtime` filter (lavfi alone would
 * run as fast as the CPU allows), stamped with the wall clock like a real camera. settb:
 * microsecond timestamps, or wall-clock times rounded to whole frames would collide.
 */
export function testPatternInput(spec: CaptureSpec): CaptureInput {
  const fontSize = Math.max(12, Math.round(spec.height / 16));
  // drawtext's own escaping: ':' inside the strftime format is escaped twice (filter graph + option).
  const clock = `drawtext=text='%{gmtime\\:%Y-%m-%d %H\\\\\\:%M\\\\\\:%S}Z':fontsize=${fontSize}:fontcolor=white:box=1:boxcolor=black@0.6:x=8:y=8`;
  const graph = `testsrc2=size=${spec.width}x${spec.height}:rate=${spec.fps},${clock},realtime,${timeBandFilters(spec)},settb=AVTB`;
  return {
    inputArgs: ['-use_wallclock_as_timestamps', '1', '-f', 'lavfi', '-i', graph],
    encoded: false,
    wallClock: true,
    description: `test pattern ${spec.width}x${spec.height}@${spec.fps}`,
  };
}

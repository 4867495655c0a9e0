import path from 'node:path';
import type { EncoderArgs } from '../../device/encoders/args.js';
import type { CaptureInput } from '../../device/types.js';

/** Everything that decides one camera's FFmpeg command line. */
export interface PipelineArgsInput {
  capture: CaptureInput;
  /** Null when the capture already delivers H.264 and FFmpeg only copies it. */
  encoder: EncoderArgs | null;
  /** Seconds between keyframes: the HLS segment length, and a divisor of the archive length. */
  keyframeSeconds: number;
  /**
   * The recording timeline: output timestamps are wall-clock seconds since `baseSeconds` (epoch
   * seconds, an archive boundary at or before the start), so cuts at multiples of the archive
   * length fall on wall-clock boundaries. A wall-clock capture (CaptureInput.wallClock) is put on
   * it as its frames arrived; any other starts at `offsetSeconds`, where its first frame is
   * expected (FFmpeg's start).
   */
  timeline: { baseSeconds: number; offsetSeconds: number };
  hls: { dir: string; segmentSeconds: number; listSize: number };
  recording: { dir: string; segmentSeconds: number };
  /** Optional tiny grey frames written raw to file descriptor 3 (the motion meter's pipe). */
  motion?: { width: number; height: number; fps: number };
  /** Also write the encode as fragmented MP4 to file descriptor 4 (the live view's pipe). */
  live?: boolean;
}

/**
 * The partial recordings' file pattern: numbered, never named by the clock, since two cuts in one
 * second (a short first segment, a source catching up) would share a name and overwrite.
 */
export const RECORDING_PATTERN = 'rec-%06d.ts';
/** The list FFmpeg appends `file,start,end` to as each recording segment closes. */
export const RECORDING_LIST = 'segments.csv';
/** The live playlist in each camera's HLS folder. */
export const HLS_PLAYLIST = 'index.m3u8';
/** The live segments' file pattern (epoch-numbered). */
export const HLS_SEGMENT_PATTERN = 'seg-%d.ts';
/** The file descriptor FFmpeg writes the live view's fragmented MP4 to. */
export const LIVE_FD = 4;

/**
 * Whether a file in an HLS folder is one FFmpeg's HLS muxer made for us: a segment, the playlist,
 * or the playlist's temp file (hls_flags=temp_file). Only these are ever deleted from it.
 */
export function isHlsOutput(name: string): boolean {
  return /^seg-\d+\.ts(\.tmp)?$/.test(name) || name === HLS_PLAYLIST || name === `${HLS_PLAYLIST}.tmp`;
}

/** A backslash before every character of `specials` and every white space (av_get_token's escape). */
function backslashed(text: string, specials: string): string {
  return text.replace(/[\s\S]/g, (c) => (specials.includes(c) || /\s/.test(c) ? `\\${c}` : c));
}

// The tee muxer reads its target twice (libavformat/tee.c, tee_common.c): av_get_token splits it
// into slaves at '|' (unescaping once), then each `[key=value:...]` option value is read with
// av_get_token again, ending at ':' or ']'. Quotes and backslashes count at both levels.
const SLAVE_SPECIALS = "\\'|";
const OPTION_SPECIALS = "\\':]";

/**
 * A tee slave option value, escaped for both levels: a `:` or `]` in a folder name stays in the
 * value instead of starting another option (issue 15: `hls.dir` could inject tee options).
 */
export function teeOptionValue(value: string): string {
  return backslashed(backslashed(value, OPTION_SPECIALS), SLAVE_SPECIALS);
}

/** A tee slave's output (what follows `]`), read at the first level only. */
export function teeOutput(value: string): string {
  return backslashed(value, SLAVE_SPECIALS);
}

/**
 * A folder inside the segment muxer's output pattern (`%06d`): a literal `%` is written `%%`. (The
 * HLS muxer's segment name replaces only `%d`/`%0Nd` and takes `%%` as is, so it gets none.)
 */
function patternDir(dir: string): string {
  return dir.replace(/%/g, '%%');
}

/**
 * The timeline offset as FFmpeg reads it (microseconds), rounded up: a whole number of frames at
 * 15 or 30 fps is no exact decimal, and 8/15 = 0.533333 rounded down puts the frame that belongs
 * on a wall-clock boundary 0.3 µs before it, so every cut and keyframe lands one frame late.
 */
export function offsetText(offset: number): string {
  // The small slack keeps an offset already exact in microseconds (0.4) from gaining one.
  return (Math.ceil(offset * 1e6 - 1e-3) / 1e6).toFixed(6);
}

/**
 * The first HLS segment's length at most (`hls_init_time`, and the extra keyframe below): the
 * first segment is listed this soon after the first frame instead of at the next keyframe
 * boundary, up to a whole segment later (issue 20, start-up).
 */
export const FIRST_SEGMENT_SECONDS = 0.25;

/**
 * A keyframe on the first frame, whenever the timeline crosses a whole multiple of `k` seconds,
 * and once FIRST_SEGMENT_SECONDS after the first frame if no boundary came sooner (so the first
 * HLS segment can be cut there). FFmpeg's `t` here counts from the first frame, so the offset
 * puts it back on the wall-clock timeline.
 */
export function keyframeExpression(k: number, offset: number): string {
  const o = offsetText(offset);
  const boundary = `gte(floor((t+${o})/${k}),floor((prev_forced_t+${o})/${k})+1)`;
  const early = `eq(n_forced,1)*gte(t-prev_forced_t,${FIRST_SEGMENT_SECONDS})`;
  return `expr:if(isnan(prev_forced_t),1,${boundary}+${early})`;
}

/** Whether the capture's own packets carry wall-clock times (see CaptureInput.wallClock). */
function onWallClock(input: PipelineArgsInput): boolean {
  return input.capture.wallClock === true;
}

function teeTarget(input: PipelineArgsInput): string {
  const { hls, recording } = input;
  const hlsOptions = [
    'f=hls',
    `hls_time=${hls.segmentSeconds}`,
    // The first segment is cut at the first keyframe this long after the first frame (the one
    // keyframeExpression adds), not a whole segment later: a viewer gets a picture sooner.
    `hls_init_time=${FIRST_SEGMENT_SECONDS}`,
    `hls_list_size=${hls.listSize}`,
    // temp_file: a player never reads a half-written playlist; omit_endlist: players keep polling
    // through a pipeline restart instead of treating the stream as over.
    'hls_flags=delete_segments+temp_file+independent_segments+omit_endlist+program_date_time',
    // Epoch numbering keeps segment names unique across restarts, so no player caches a stale one.
    'hls_start_number_source=epoch',
    `hls_segment_filename=${teeOptionValue(path.join(hls.dir, HLS_SEGMENT_PATTERN))}`,
    // abort: a dead slave must stop FFmpeg so the supervisor restarts it; tee would otherwise carry
    // on "with 1/2 slaves" and the archive would silently stop.
    'onfail=abort',
  ];
  const recordingOptions = [
    'f=segment',
    `segment_time=${recording.segmentSeconds}`,
    // MPEG-TS loses almost nothing on kill -9; flush_packets hands every packet to the kernel at
    // once instead of holding 256 KB (seconds of video) in FFmpeg's buffer.
    'segment_format=mpegts',
    'segment_format_options=flush_packets=1',
    'reset_timestamps=1',
    // On the wall clock, cut at the first keyframe at or after each boundary as it arrives: a
    // first frame that came late (a slow camera) would put FFmpeg's count of cuts off by one.
    // FFmpeg's clock cuts use local time: the agent runs it with TZ=UTC.
    ...(onWallClock(input) ? ['segment_atclocktime=1'] : []),
    `segment_list=${teeOptionValue(path.join(recording.dir, RECORDING_LIST))}`,
    'segment_list_type=csv',
    'onfail=abort',
  ];
  return (
    `[${hlsOptions.join(':')}]${teeOutput(path.join(hls.dir, HLS_PLAYLIST))}` +
    `|[${recordingOptions.join(':')}]${teeOutput(path.join(patternDir(recording.dir), RECORDING_PATTERN))}` +
    (input.live ? `|[${LIVE_OPTIONS.join(':')}]pipe:${LIVE_FD}` : '')
  );
}

/**
 * The live view's slave: the same packets muxed again as fragmented MP4, one fragment per frame
 * (a frame waits for nothing but itself), written to the agent's pipe as each is made. It may fail
 * (the agent closed the pipe) without taking HLS and the recording down with it.
 */
const LIVE_OPTIONS = [
  'f=mp4',
  // empty_moov: the init segment comes first, before any frame; default_base_moof: what MSE wants;
  // skip_trailer: nothing to seek back to on a pipe.
  'movflags=empty_moov+default_base_moof+frag_every_frame+skip_trailer',
  'flush_packets=1',
  'onfail=ignore',
];

function videoArgs(input: PipelineArgsInput, videoLabel: string): string[] {
  if (input.encoder === null) return ['-map', videoLabel, '-c:v', 'copy'];
  return [
    '-map',
    videoLabel,
    ...input.encoder.outputArgs,
    // Wall-clock captures have their first frame put on a keyframe boundary (wallClockAlignment).
    ...(onWallClock(input) ? ['-enc_time_base:v', '1:1000'] : []),
    '-force_key_frames',
    keyframeExpression(input.keyframeSeconds, onWallClock(input) ? 0 : input.timeline.offsetSeconds),
    // Keep the capture's own timestamps (a constant-rate resampler would drift from the wall
    // clock), but drop a frame that lands on its predecessor's millisecond: frames stamped as they
    // arrive can come in a burst after a stall, and two equal timestamps make the muxer write a
    // non-monotonic DTS into the archive (seen under load with passthrough).
    '-fps_mode',
    'vfr',
    // The tee muxer needs codec headers up front or a slave cannot be written.
    '-flags',
    '+global_header',
  ];
}

/**
 * Longest a wall-clock capture's first frame may be shown before it was captured, when it is
 * stamped back to a keyframe boundary (wallClockAlignment).
 */
export const FIRST_FRAME_HOLD_SECONDS = 0.5;

/**
 * On the wall clock, the first frame is put on a keyframe boundary, since FFmpeg counts the
 * keyframe expression's `t` from it: then keyframes (every k s from the first frame) fall on
 * wall-clock multiples of k. It is stamped back to the boundary before it when that boundary is
 * no earlier than this run's start (`timeline.offsetSeconds`: it then overlaps nothing an earlier
 * run recorded) and at most FIRST_FRAME_HOLD_SECONDS before it; else the frames before the next
 * boundary are dropped. A start need not wait up to a second for a boundary (issue 20, start-up).
 */
function wallClockAlignment(input: PipelineArgsInput): string | null {
  if (!onWallClock(input)) return null;
  const k = input.keyframeSeconds;
  const boundaryBefore = (time: string) => `floor(${time}/${k})*${k}`;
  const stampBack =
    `gte(${boundaryBefore('start_t')},${offsetText(input.timeline.offsetSeconds)})` +
    `*lte(start_t-${boundaryBefore('start_t')},${FIRST_FRAME_HOLD_SECONDS})`;
  const keep = `select='${stampBack}+gte(t,ceil(start_t/${k})*${k})'`;
  // Frames kept after a drop start at or just after a boundary: stamped to it as well.
  const stampFirst = `setpts='if(eq(N,0),${boundaryBefore('T')}/TB,PTS)'`;
  return `${keep},${stampFirst}`;
}

/** The filter graph: optional encoder filter on the main branch, optional motion branch. */
function filterGraph(input: PipelineArgsInput): { graph: string | null; video: string } {
  if (input.encoder === null) return { graph: null, video: '0:v:0' };
  // The capture's fix-ups (scale, colour range) come first; they serve the motion branch too.
  const chain = [wallClockAlignment(input), input.capture.filter].filter(Boolean).join(',');
  const capture = chain ? `[0:v]${chain}[c]` : null;
  const source = capture ? '[c]' : '[0:v]';
  const encoderFilter = input.encoder.filter;
  if (!input.motion) {
    if (!capture && !encoderFilter) return { graph: null, video: '0:v:0' };
    const main = encoderFilter ? `${source}${encoderFilter}[v]` : `${source}null[v]`;
    return { graph: [capture, main].filter(Boolean).join(';'), video: '[v]' };
  }
  const { width, height, fps } = input.motion;
  const main = encoderFilter ? `[a]${encoderFilter}[v]` : '[a]null[v]';
  const split = `${source}split=2[a][b];${main};[b]fps=${fps},scale=${width}:${height},format=gray[m]`;
  return { graph: [capture, split].filter(Boolean).join(';'), video: '[v]' };
}

/**
 * Onto the recording timeline: wall-clock packet times less the base; or timestamps from zero at
 * the first frame, moved to where that frame is expected.
 */
function timelineArgs(input: PipelineArgsInput): string[] {
  if (onWallClock(input))
    return ['-itsoffset', `-${input.timeline.baseSeconds.toFixed(6)}`, ...input.capture.inputArgs, '-copyts'];
  return [
    '-itsoffset',
    offsetText(input.timeline.offsetSeconds),
    ...input.capture.inputArgs,
    '-copyts',
    '-start_at_zero',
  ];
}

/** The full FFmpeg argument list for one camera: one decode, one encode, HLS + crash-safe recording. */
export function buildPipelineArgs(input: PipelineArgsInput): string[] {
  const { graph, video } = filterGraph(input);
  const args = [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'warning',
    '-progress',
    'pipe:1',
    '-stats_period',
    '0.5',
    ...(input.encoder?.globalArgs ?? []),
    ...timelineArgs(input),
    ...(graph ? ['-filter_complex', graph] : []),
    ...videoArgs(input, video),
    '-an',
    '-f',
    'tee',
    teeTarget(input),
  ];
  if (input.motion && input.encoder !== null) {
    args.push('-map', '[m]', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:3');
  } else if (input.motion) {
    // A camera-side encoder's stream is copied, never decoded for the outputs; the motion meter
    // gets its own decode of it, thinned to a few grey frames a second.
    const { width, height, fps } = input.motion;
    args.push(
      '-map',
      '0:v:0',
      '-vf',
      `fps=${fps},scale=${width}:${height},format=gray`,
      '-f',
      'rawvideo',
      '-pix_fmt',
      'gray',
      'pipe:3',
    );
  }
  return args;
}

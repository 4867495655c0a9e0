import type { EncodeSettings } from '../types.js';

/** What an encoder adds to the FFmpeg command line. */
export interface EncoderArgs {
  /** Global options placed before the inputs (e.g. a VAAPI device). */
  globalArgs?: string[];
  /** A filter appended to the video chain (e.g. `format=nv12,hwupload`). */
  filter?: string;
  /** Output options: codec, rate control, GOP, pixel format. */
  outputArgs: string[];
}

/** Frames from one keyframe to the next. */
export function gopFrames(fps: number, keyframeSeconds: number): number {
  return Math.max(1, Math.round(fps * keyframeSeconds));
}

/**
 * The Jetson hardware encoder as GStreamer elements, up to an H.264 byte stream: what the CSI
 * producer runs and the probe proves, so they cannot drift apart.
 */
export function jetsonEncoderElements(gop: number, bitrateKbps: number): string[] {
  return [
    'nvv4l2h264enc',
    // SPS/PPS before every IDR, and every I-frame an IDR (idrinterval defaults to 256):
    // otherwise cuts from a keyframe do not decode.
    'insert-sps-pps=1',
    `iframeinterval=${gop}`,
    `idrinterval=${gop}`,
    `bitrate=${bitrateKbps * 1000}`,
    '!',
    'h264parse',
    '!',
    'video/x-h264,stream-format=byte-stream',
  ];
}

/**
 * FFmpeg output options for one encoder at the given settings. Every encoder gets an explicit
 * bitrate and GOP: hardware encoders ignore CRF and some default to absurd GOPs.
 */
export function ffmpegEncoderArgs(name: string, s: EncodeSettings): EncoderArgs {
  const gop = String(gopFrames(s.fps, s.keyframeSeconds));
  const rate = [`-b:v`, `${s.bitrateKbps}k`, '-maxrate', `${s.bitrateKbps}k`, '-bufsize', `${s.bitrateKbps * 2}k`];
  switch (name) {
    case 'libx264':
      // zerolatency: no lookahead or B-frames, so a frame reaches its HLS segment ~0.1 s sooner.
      // fps: a capture stamped with the wall clock (-use_wallclock_as_timestamps) has no frame rate
      // FFmpeg can guess but its microsecond time base, so x264 planned for 1,000,000 fps and gave
      // each frame 2.5 bits: the test camera's picture was grey at 70 kb/s (issue 20).
      return {
        outputArgs: [
          '-c:v',
          'libx264',
          '-preset',
          'ultrafast',
          '-tune',
          'zerolatency',
          '-x264-params',
          `fps=${s.fps}`,
          ...rate,
          // The pipeline forces every keyframe on the clock (keyframeExpression); x264's own GOP is
          // only a backstop. At exactly fps × k frames it put an extra keyframe just before a
          // boundary whenever wall-clock frames came a little fast, and HLS cuts at every keyframe
          // after its short first segments (hls_init_time): 33-ms segments (issue 20, start-up).
          '-g',
          String(Number(gop) * 2),
          '-pix_fmt',
          'yuv420p',
        ],
      };
    case 'h264_v4l2m2m':
      // The Pi's encoder: no CRF, no B-frames; SPS/PPS must repeat in-band for cuts to decode.
      return {
        outputArgs: ['-c:v', 'h264_v4l2m2m', ...rate.slice(0, 2), '-g', gop, '-bf', '0', '-pix_fmt', 'yuv420p'],
      };
    case 'h264_nvenc':
      return {
        outputArgs: [
          '-c:v',
          'h264_nvenc',
          '-preset',
          'p3',
          '-tune',
          'll',
          ...rate,
          '-g',
          gop,
          '-bf',
          '0',
          '-pix_fmt',
          'yuv420p',
        ],
      };
    case 'h264_vaapi':
      return {
        globalArgs: ['-vaapi_device', '/dev/dri/renderD128'],
        filter: 'format=nv12,hwupload',
        outputArgs: ['-c:v', 'h264_vaapi', ...rate, '-g', gop, '-bf', '0'],
      };
    case 'h264_qsv':
      return {
        outputArgs: ['-c:v', 'h264_qsv', '-preset', 'veryfast', ...rate, '-g', gop, '-bf', '0', '-pix_fmt', 'nv12'],
      };
    default:
      return { outputArgs: ['-c:v', name, ...rate, '-g', gop] };
  }
}

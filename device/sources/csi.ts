import { gopFrames, jetsonEncoderElements } from '../encoders/args.js';
import type { CaptureInput, CaptureSpec, EncodeSettings, EncoderCandidate, ProducerCommand } from '../types.js';

/** The producer settings a camera-side encoder needs (bitrate, keyframe spacing). */
export type ProducerSettings = Pick<EncodeSettings, 'bitrateKbps' | 'keyframeSeconds'>;

/** The frames arrive on FFmpeg's stdin: the OS joins the producer's stdout to it. */
function rawPipe(spec: CaptureSpec): string[] {
  return [
    '-f',
    'rawvideo',
    '-pix_fmt',
    'yuv420p',
    '-video_size',
    `${spec.width}x${spec.height}`,
    '-framerate',
    String(spec.fps),
    '-i',
    'pipe:0',
  ];
}

function h264Pipe(spec: CaptureSpec): string[] {
  // A raw H.264 elementary stream has no timestamps; -framerate gives FFmpeg the clock.
  return ['-f', 'h264', '-framerate', String(spec.fps), '-i', 'pipe:0'];
}

const gop = (spec: CaptureSpec, s: ProducerSettings): number => gopFrames(spec.fps, s.keyframeSeconds);

/**
 * Raspberry Pi CSI camera through libcamera's `rpicam-vid` (`libcamera-vid` before Bookworm).
 * With the `rpicam-h264` candidate the Pi 0-4's hardware encoder runs inside rpicam-vid and
 * FFmpeg only copies; otherwise rpicam-vid writes raw YUV420 for FFmpeg to encode.
 */
export function rpicamInput(
  camera: number,
  spec: CaptureSpec,
  encoder: EncoderCandidate,
  settings: ProducerSettings,
  command = 'rpicam-vid',
): CaptureInput {
  // --flush: write each frame as it is ready, or stdio buffering adds latency to live HLS.
  const base = [
    '-t',
    '0',
    '-n',
    '--camera',
    String(camera),
    '--width',
    String(spec.width),
    '--height',
    String(spec.height),
    '--framerate',
    String(spec.fps),
    '--flush',
  ];
  const where = `csi:${camera} ${command} ${spec.width}x${spec.height}@${spec.fps}`;
  if (encoder.name === 'rpicam-h264') {
    const producer: ProducerCommand = {
      command,
      args: [
        ...base,
        '--codec',
        'h264',
        // --inline repeats SPS/PPS before every I-frame, so each HLS segment and archive cut decodes alone.
        '--inline',
        '--intra',
        String(gop(spec, settings)),
        '--bitrate',
        String(settings.bitrateKbps * 1000),
        '--profile',
        'high',
        '--level',
        '4.2',
        '-o',
        '-',
      ],
    };
    return { producer, inputArgs: h264Pipe(spec), encoded: true, description: `${where} h264 (camera-side encoder)` };
  }
  const producer: ProducerCommand = { command, args: [...base, '--codec', 'yuv420', '-o', '-'] };
  return {
    producer,
    inputArgs: rawPipe(spec),
    encoded: false,
    // rpicam-vid's raw YUV420 is full range; untagged, FFmpeg would take it as limited and wash it out.
    filter: 'scale=in_range=full:out_range=limited',
    description: `${where} yuv420`,
  };
}

/**
 * Jetson CSI camera through Argus in a GStreamer producer. With the `nvv4l2h264enc` candidate
 * the Jetson's NVENC encodes (no stock FFmpeg can reach it) and FFmpeg only copies; otherwise
 * nvvidconv brings frames out of NVMM memory as I420 for FFmpeg to encode (Orin Nano has no NVENC).
 */
export function argusInput(
  sensor: number,
  spec: CaptureSpec,
  encoder: EncoderCandidate,
  settings: ProducerSettings,
): CaptureInput {
  const src = [
    '-q',
    'nvarguscamerasrc',
    `sensor-id=${sensor}`,
    '!',
    `video/x-raw(memory:NVMM),width=${spec.width},height=${spec.height},framerate=${spec.fps}/1`,
  ];
  const sink = ['!', 'fdsink', 'fd=1'];
  const where = `csi:${sensor} nvarguscamerasrc ${spec.width}x${spec.height}@${spec.fps}`;
  if (encoder.name === 'nvv4l2h264enc') {
    const producer: ProducerCommand = {
      command: 'gst-launch-1.0',
      args: [...src, '!', ...jetsonEncoderElements(gop(spec, settings), settings.bitrateKbps), ...sink],
    };
    return { producer, inputArgs: h264Pipe(spec), encoded: true, description: `${where} h264 (nvv4l2h264enc)` };
  }
  const producer: ProducerCommand = {
    command: 'gst-launch-1.0',
    args: [...src, '!', 'nvvidconv', '!', 'video/x-raw,format=I420', ...sink],
  };
  return { producer, inputArgs: rawPipe(spec), encoded: false, description: `${where} i420` };
}

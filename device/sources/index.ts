import { SourceUnavailableError } from '../errors.js';
import type { Camera } from '../cameras.js';
import { findOnPath } from '../../agent/util/run.js';
import type { BoardInfo, CaptureInput, CaptureSpec, EncoderCandidate } from '../types.js';
import { argusInput, rpicamInput, type ProducerSettings } from './csi.js';
import { testPatternInput } from './test.js';
import { isUrlSource, urlInput } from './url.js';
import { findCamera, v4l2Input } from './v4l2.js';

export type { ProducerSettings } from './csi.js';
export { testPatternInput } from './test.js';

/** What captureInput may ask of the machine; tests replace it. */
export interface SourceEnv {
  /** Whether a program is on PATH (picks rpicam-vid or the older libcamera-vid). */
  hasCommand?: (name: string) => boolean;
}

/** Used when the caller gives no settings: the config defaults (2500 kb/s, 1-s keyframes). */
const DEFAULT_SETTINGS: ProducerSettings = { bitrateKbps: 2500, keyframeSeconds: 1 };

/**
 * How FFmpeg gets frames for one configured `cameras[].source`: FFmpeg input arguments, and
 * for CSI cameras a producer process piped into FFmpeg. `encoder` matters only to CSI sources,
 * whose producer can encode (`rpicam-h264`, `nvv4l2h264enc`); `settings` gives that encoder its
 * bitrate and keyframe spacing. Throws SourceUnavailableError for a source this board
 * cannot have and for a producer encoder paired with a source that has no producer.
 */
export function captureInput(
  source: string,
  spec: CaptureSpec,
  encoder: EncoderCandidate,
  board: BoardInfo,
  cameras: Camera[],
  settings: ProducerSettings = DEFAULT_SETTINGS,
  env: SourceEnv = {},
): CaptureInput {
  const csi = /^csi(?::(\d+))?$/.exec(source);
  if (encoder.where === 'producer' && !csi) {
    throw new SourceUnavailableError(
      `encoder ${encoder.name} runs inside a csi camera producer, source ${source} has none`,
    );
  }
  if (csi) return csiInput(Number(csi[1] ?? 0), spec, encoder, board, settings, env);
  if (source === 'test') return testPatternInput(spec);
  if (source === 'auto') {
    const first = cameras[0];
    // No camera: the synthetic pattern, so a fresh machine still runs the whole agent.
    return first
      ? v4l2Input(first.byId ?? first.device, spec, first, settings.keyframeSeconds)
      : testPatternInput(spec);
  }
  if (source.startsWith('v4l2:')) {
    const device = source.slice('v4l2:'.length);
    if (!device.startsWith('/dev/')) {
      throw new SourceUnavailableError(`source ${source} must name a device under /dev, e.g. v4l2:/dev/video0`);
    }
    return v4l2Input(device, spec, findCamera(device, cameras), settings.keyframeSeconds);
  }
  if (isUrlSource(source)) return urlInput(source);
  throw new SourceUnavailableError(
    `unknown camera source ${source}: use auto, test, v4l2:/dev/videoN, csi, csi:N or an rtsp://, http(s)://, file: url`,
  );
}

function csiInput(
  n: number,
  spec: CaptureSpec,
  encoder: EncoderCandidate,
  board: BoardInfo,
  settings: ProducerSettings,
  env: SourceEnv,
): CaptureInput {
  const has = env.hasCommand ?? ((name: string) => findOnPath(name) !== undefined);
  if (encoder.where === 'producer' && !producerFits(encoder.name, board)) {
    throw new SourceUnavailableError(`encoder ${encoder.name} cannot run on ${board.model}`);
  }
  switch (board.family) {
    case 'pi-legacy':
    case 'pi5':
      // Bookworm renamed libcamera-vid to rpicam-vid; Bullseye images only have the old name.
      return rpicamInput(
        n,
        spec,
        encoder,
        settings,
        !has('rpicam-vid') && has('libcamera-vid') ? 'libcamera-vid' : 'rpicam-vid',
      );
    case 'jetson':
    case 'jetson-orin-nano':
      return argusInput(n, spec, encoder, settings);
    default:
      throw new SourceUnavailableError(`source csi:${n} needs a raspberry pi or jetson board, this is ${board.model}`);
  }
}

function producerFits(name: string, board: BoardInfo): boolean {
  if (name === 'rpicam-h264') return board.family === 'pi-legacy' || board.family === 'pi5';
  if (name === 'nvv4l2h264enc') return board.family === 'jetson' || board.family === 'jetson-orin-nano';
  return false;
}

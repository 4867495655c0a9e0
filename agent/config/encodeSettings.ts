import type { EncodeSettings } from '../../device/types.js';
import type { AgentConfig, CameraConfig } from './types.js';

/** A camera's size and rate when there is none to go by (no config, no camera): the contract's defaults. */
const DEFAULT_CAMERA = { width: 1280, height: 720, fps: 30 } as const;

/**
 * What a camera is encoded at: its size and rate, the configured bitrate, and a keyframe at every
 * HLS segment boundary. The pipeline, the encoder probe, `probe` and doctor all take it from here,
 * so a test encode proves the settings the pipeline then runs (and hits the same verdict cache).
 */
export function encodeSettings(
  config: { encoder: Pick<AgentConfig['encoder'], 'bitrateKbps'>; hls: Pick<AgentConfig['hls'], 'segmentSeconds'> },
  camera: Pick<CameraConfig, 'width' | 'height' | 'fps'> = DEFAULT_CAMERA,
): EncodeSettings {
  return {
    width: camera.width,
    height: camera.height,
    fps: camera.fps,
    bitrateKbps: config.encoder.bitrateKbps,
    keyframeSeconds: config.hls.segmentSeconds,
  };
}

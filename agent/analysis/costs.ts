/**
 * What one analysis request costs and the levers that set it: the frame rate and media
 * resolution the model sees (per camera), the proxy sized to match, and the input tokens that
 * follow from Gemini's published rates.
 */
import type { AgentConfig, AnalysisCostConfig, AnalysisResolution } from '../config/types.js';

/**
 * Input tokens per video frame as Gemini's video-understanding guide gives them for 2.x models:
 * 66 at low media resolution, 258 otherwise (the SDK's MediaResolution comments say 64 and 256;
 * the guide's larger figures are used, so estimates err high).
 */
export const TOKENS_PER_FRAME: Readonly<Record<AnalysisResolution, number>> = { low: 66, medium: 258, high: 258 };

/** Audio is 32 tokens a second at any resolution; proxies carry no audio track, so none is billed. */
export const AUDIO_TOKENS_PER_SECOND = 32;

/** About four characters of text make a token (Gemini's token guide). */
export const CHARS_PER_TOKEN = 4;

/**
 * Proxy width per media resolution. Low keeps the 480 px the proxy benchmark settled on (the
 * model pays 66 tokens a frame whatever the size); medium gets the 768 px Vertex AI's video page lists as
 * the standard resolution, high the 720p archive's own 1280 px (never upscaled) for HIGH's zoomed
 * reframing.
 */
export const PROXY_WIDTH: Readonly<Record<AnalysisResolution, number>> = { low: 480, medium: 768, high: 1280 };

/** The cost levers in force for one camera: `analysis.*`, overridden key by key by `cameras[i].analysis`. */
export function costsFor(config: AgentConfig, camera: string): AnalysisCostConfig {
  const { fps, resolution, skipDuplicates, duplicateMotion, duplicateDistance } = config.analysis;
  const own = config.cameras.find((c) => c.id === camera)?.analysis ?? {};
  return { fps, resolution, skipDuplicates, duplicateMotion, duplicateDistance, ...own };
}

/** Frames the model samples from a clip: one every 1/fps seconds from its start. */
export function sampledFrames(seconds: number, fps: number): number {
  return Math.max(1, Math.ceil(seconds * fps - 1e-9));
}

/** What goes into one request, for an estimate of its input tokens. */
export interface RequestShape {
  frames: number;
  resolution: AnalysisResolution;
  /** Seconds of audio sent (0: the proxy has none). */
  audioSeconds?: number;
  /** Characters of text: the prompt and the response schema. */
  textChars?: number;
}

/** Input (prompt) tokens of one generateContent call by the published rates. */
export function estimateInputTokens(shape: RequestShape): number {
  const video = shape.frames * TOKENS_PER_FRAME[shape.resolution];
  const audio = Math.ceil((shape.audioSeconds ?? 0) * AUDIO_TOKENS_PER_SECOND);
  const text = Math.ceil((shape.textChars ?? 0) / CHARS_PER_TOKEN);
  return video + audio + text;
}

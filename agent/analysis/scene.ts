/**
 * A clip's scene signature: a few frames spread over the clip, each reduced to 9×8 grey cells,
 * taken by one short FFmpeg run that seeks to each keyframe and decodes only it. Two signatures
 * are compared like difference hashes (each cell against its right neighbour: 64 comparisons a
 * frame) but by how much each difference changed, not by its sign alone: a plain hash flips
 * the bits of flat areas (grass, a road) at random with sensor noise, 10 of 256 between two
 * clips of one still yard, as many as a person standing in it; counted with a margin, noise,
 * light and contrast changes (+10 % brightness, contrast ×1.25, gamma 1.3) changed none, a
 * person standing (1.4 % of the view) 16, a van 48.
 */
import path from 'node:path';
import { AgentError } from '../contract/errors.js';
import { runCheckedBytes } from '../util/run.js';

/** Frames a signature is made of. */
export const SIGNATURE_FRAMES = 4;

const HASH_W = 9;
const HASH_H = 8;

/** Neighbour comparisons in a signature: 64 per frame; the most `signatureDistance` can count. */
export const SIGNATURE_COMPARISONS = (HASH_W - 1) * HASH_H * SIGNATURE_FRAMES;

/**
 * A neighbour difference counts as changed when it moved by more than this many grey levels
 * plus CHANGE_SHARE of the larger of the two: noise moves a cell's mean by 2 or 3, and a gain
 * change scales every difference by the same share.
 */
export const CHANGE_LEVELS = 6;
export const CHANGE_SHARE = 0.25;

/**
 * FFmpeg's arguments (pure, table-tested): one input per frame, each seeked to the keyframe
 * before its point and decoding keyframes only, reduced to 9×8 grey (area average) and laid side
 * by side; one raw frame of (9 × frames) × 8 bytes on stdout.
 */
export function signatureArgs(input: string, seconds: number, frames = SIGNATURE_FRAMES): string[] {
  const length = Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
  const inputs: string[] = [];
  const chains: string[] = [];
  for (let i = 0; i < frames; i++) {
    // Midpoints of equal parts: never the first frame after a cut nor past the end.
    const at = ((i + 0.5) * length) / frames;
    inputs.push('-noaccurate_seek', '-skip_frame', 'nokey', '-ss', at.toFixed(3), '-i', input);
    chains.push(`[${i}:v]trim=end_frame=1,setpts=PTS-STARTPTS,scale=${HASH_W}:${HASH_H}:flags=area,format=gray[f${i}]`);
  }
  const stack = `${Array.from({ length: frames }, (_, i) => `[f${i}]`).join('')}hstack=inputs=${frames}`;
  return [
    '-nostdin',
    '-hide_banner',
    '-v',
    'error',
    ...inputs,
    '-filter_complex',
    `${chains.join(';')};${stack}`,
    '-frames:v',
    '1',
    '-f',
    'rawvideo',
    'pipe:1',
  ];
}

/** The signature of side-by-side 9×8 grey frames (FFmpeg's output): the cells as hex, frame by frame, row by row. */
export function signatureOf(grey: Uint8Array, frames = SIGNATURE_FRAMES): string {
  const width = HASH_W * frames;
  if (grey.length < width * HASH_H)
    throw new AgentError('analysis_failed', `scene signature: ${grey.length} bytes, expected ${width * HASH_H}`);
  let hex = '';
  for (let f = 0; f < frames; f++) {
    for (let row = 0; row < HASH_H; row++) {
      for (let col = 0; col < HASH_W; col++) hex += grey[row * width + f * HASH_W + col]!.toString(16).padStart(2, '0');
    }
  }
  return hex;
}

/** Each cell's difference to its right neighbour, frame by frame; null for a signature of another form. */
function neighbourDifferences(signature: string): number[] | null {
  if (signature.length !== SIGNATURE_FRAMES * HASH_W * HASH_H * 2 || !/^[0-9a-f]*$/.test(signature)) return null;
  const cell = (i: number) => Number.parseInt(signature.slice(i * 2, i * 2 + 2), 16);
  const out: number[] = [];
  for (let row = 0; row < SIGNATURE_FRAMES * HASH_H; row++) {
    for (let col = 0; col < HASH_W - 1; col++) out.push(cell(row * HASH_W + col + 1) - cell(row * HASH_W + col));
  }
  return out;
}

/** Neighbour comparisons (of SIGNATURE_COMPARISONS) that changed between two signatures; Infinity when they are not comparable. */
export function signatureDistance(a: string, b: string): number {
  const x = neighbourDifferences(a);
  const y = neighbourDifferences(b);
  if (!x || !y) return Number.POSITIVE_INFINITY;
  return x.filter((d, i) => Math.abs(d - y[i]!) > CHANGE_LEVELS + CHANGE_SHARE * Math.max(Math.abs(d), Math.abs(y[i]!)))
    .length;
}

/** How the signature is taken. */
export interface SignatureOptions {
  ffmpegPath?: string;
  /** Kill FFmpeg after this long (it decodes 4 keyframes: well under a second). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The scene signature of an archive `seconds` long; FFmpeg at low priority, like the proxy. */
export async function sceneSignature(input: string, seconds: number, options: SignatureOptions = {}): Promise<string> {
  try {
    const pixels = await runCheckedBytes(options.ffmpegPath ?? 'ffmpeg', signatureArgs(input, seconds), {
      timeoutMs: options.timeoutMs ?? 30_000,
      priority: 10,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return signatureOf(pixels);
  } catch (error) {
    throw new AgentError(
      'analysis_failed',
      `scene signature of ${path.basename(input)} failed: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

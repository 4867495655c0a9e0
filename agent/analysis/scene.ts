/**
 * A clip's scene signature: a 64-bit difference hash (9×8 grey, each cell brighter or darker
 * than its right neighbour) of a few frames spread over the clip, taken by one short FFmpeg run
 * that seeks to each keyframe and decodes only it. Two signatures a few bits apart show the same
 * scene; a global change of light flips few bits, since each bit compares neighbours.
 */
import { spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import path from 'node:path';
import { AgentError } from '../contract/errors.js';
import { childEnv } from '../util/childEnv.js';

/** Frames a signature is made of. */
export const SIGNATURE_FRAMES = 4;
/** Bits of a signature: 64 per frame. */
export const SIGNATURE_BITS = 64 * SIGNATURE_FRAMES;

const HASH_W = 9;
const HASH_H = 8;

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
    '-nostdin', '-hide_banner', '-v', 'error',
    ...inputs,
    '-filter_complex', `${chains.join(';')};${stack}`,
    '-frames:v', '1', '-f', 'rawvideo', 'pipe:1',
  ];
}

/** The difference hash of side-by-side 9×8 grey frames, as hex (16 digits a frame). */
export function differenceHash(grey: Uint8Array, frames = SIGNATURE_FRAMES): string {
  const width = HASH_W * frames;
  if (grey.length < width * HASH_H) throw new AgentError('analysis_failed', `scene signature: ${grey.length} bytes, expected ${width * HASH_H}`);
  let hex = '';
  for (let f = 0; f < frames; f++) {
    for (let row = 0; row < HASH_H; row++) {
      let byte = 0;
      for (let col = 0; col < HASH_W - 1; col++) {
        const at = row * width + f * HASH_W + col;
        byte = (byte << 1) | (grey[at]! < grey[at + 1]! ? 1 : 0);
      }
      hex += byte.toString(16).padStart(2, '0');
    }
  }
  return hex;
}

/** Differing bits between two signatures; Infinity when they are not comparable (other lengths or not hex). */
export function signatureDistance(a: string, b: string): number {
  if (a.length !== b.length || !/^[0-9a-f]*$/.test(a) || !/^[0-9a-f]*$/.test(b)) return Number.POSITIVE_INFINITY;
  let bits = 0;
  for (let i = 0; i < a.length; i++) {
    let x = Number.parseInt(a[i]!, 16) ^ Number.parseInt(b[i]!, 16);
    for (; x; x &= x - 1) bits++;
  }
  return bits;
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
  const child = spawn(options.ffmpegPath ?? 'ffmpeg', signatureArgs(input, seconds), { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    if (child.pid) setPriority(child.pid, 10);
  } catch {
    // Not allowed to renice (some containers): it then runs at normal priority.
  }
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4096)));
  const kill = () => child.kill('SIGKILL');
  const timer = setTimeout(kill, options.timeoutMs ?? 30_000);
  options.signal?.addEventListener('abort', kill, { once: true });
  if (options.signal?.aborted) kill();
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  }).finally(() => {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', kill);
  });
  if (code !== 0) {
    const last = stderr.trim().split('\n').pop() ?? '';
    throw new AgentError('analysis_failed', `scene signature of ${path.basename(input)} failed (ffmpeg exit ${code}): ${last}`);
  }
  return differenceHash(Buffer.concat(out));
}

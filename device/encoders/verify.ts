import { readFile, stat, writeFile } from 'node:fs/promises';
import type { CommandRunner } from '../../agent/util/run.js';

/** FFmpeg's generic follow-up lines: true but useless next to the line that says why. */
const GENERIC = [
  /^Error initializing output stream/,
  /^Error while (opening encoder|processing the decoded data|filtering|decoding stream)/,
  /^Conversion failed!?$/,
  /^Failed to inject frame/,
  /^Error reinitializing filters/,
  /^Error opening output files?/,
  /^Error parsing global options/,
  /^Error marking filters as finished/,
  /^Cannot determine format of input stream/,
  /^Error sending frames to consumers/,
  /^Could not open encoder before EOF/,
  /^Task finished with error code/,
  /^Terminating (thread|muxer thread) with return code/,
  /^Nothing was written into output file/,
  /^Exiting normally/,
  /Last message repeated \d+ times?/,
];

/**
 * The few stderr lines that say why FFmpeg failed ("Cannot load libcuda.so.1", "Could not find
 * a valid device"): context prefixes stripped, generic lines and repeats dropped, the last three kept.
 */
export function stderrReason(stderr: string, max = 3): string | undefined {
  const seen = new Set<string>();
  for (const raw of stderr.split(/\r?\n/)) {
    const line = raw.replace(/^\s*(\[[^\]]+ @ 0x[0-9a-f]+\]\s*)+/i, '').trim();
    if (!line || GENERIC.some((re) => re.test(line))) continue;
    seen.add(line);
  }
  const lines = [...seen].slice(-max);
  // Only generic lines (h264_omx at -v error says nothing else): better than no reason at all.
  if (!lines.length)
    lines.push(
      ...stderr
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter(Boolean)
        .slice(-1),
    );
  return lines.length ? lines.join('; ').slice(0, 400) : undefined;
}

/** Tools the checks run, and how long each may take. */
export interface VerifyTools {
  run: CommandRunner;
  ffmpeg: string;
  ffprobe: string;
  timeoutMs: number;
}

/** Decodes a file fully; undefined when clean, else why not. */
export async function decodeProblem(file: string, tools: VerifyTools): Promise<string | undefined> {
  const r = await tools.run(tools.ffmpeg, ['-hide_banner', '-nostdin', '-v', 'error', '-i', file, '-f', 'null', '-'], {
    timeoutMs: tools.timeoutMs,
  });
  if (r.timedOut) return 'decoding timed out';
  const why = stderrReason(r.stderr);
  if (r.code !== 0 || why) return why ?? `decoder exited ${r.code}`;
  return undefined;
}

/** Byte offsets of the keyframes in a raw H.264 stream, from ffprobe's packet list. */
export async function keyframeOffsets(file: string, tools: VerifyTools): Promise<number[]> {
  const args = ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pos,flags', '-of', 'csv=p=0', file];
  const r = await tools.run(tools.ffprobe, args, { timeoutMs: tools.timeoutMs });
  return r.stdout
    .split('\n')
    .map((line) => line.trim().split(','))
    .filter(([pos, flags]) => pos && /^\d+$/.test(pos) && flags?.startsWith('K'))
    .map(([pos]) => Number(pos));
}

/**
 * Checks a raw H.264 test encode as the pipeline will use it: not empty, decodes cleanly, has
 * at least two keyframes (forced keyframes honoured), and decodes when cut at the second one.
 * The cut is what every HLS segment and archive but the first is: without SPS/PPS repeated
 * in-band (the Pi's h264_v4l2m2m outside Raspberry Pi's FFmpeg build) it shows only errors.
 */
export async function verifyH264(file: string, tools: VerifyTools): Promise<string | undefined> {
  const size = await stat(file).then(
    (s) => s.size,
    () => 0,
  );
  if (size === 0) return 'the test encode wrote no output';
  const whole = await decodeProblem(file, tools);
  if (whole) return `the test encode does not decode: ${whole}`;
  const keys = await keyframeOffsets(file, tools);
  const second = keys[1];
  if (second === undefined) return `only ${keys.length} keyframe in the test encode: forced keyframes are not honoured`;
  const cut = `${file}.cut.h264`;
  await writeFile(cut, (await readFile(file)).subarray(second));
  const cutProblem = await decodeProblem(cut, tools);
  if (cutProblem) return `a cut from the second keyframe does not decode (SPS/PPS not repeated in-band): ${cutProblem}`;
  return undefined;
}

/** The final `speed=1.5x` of an FFmpeg `-progress` report, if any. */
export function progressSpeed(progress: string): number | undefined {
  const all = [...progress.matchAll(/^speed=\s*([\d.]+)x/gm)];
  const last = all.at(-1)?.[1];
  return last === undefined ? undefined : Number(last);
}

import { runCommand } from '../../agent/util/run.js';
import type { BoardInfo, EncodeSettings, EncoderCandidate } from '../types.js';
import { ffmpegVersion, loadVerdictCache, saveVerdictCache, verdictKey } from './cache.js';
import { probeEncoder, TIMEOUT_REASON, type EncoderVerdict, type ProbeOptions } from './probe.js';

/** Options for choosing encoders: the probe's, plus where to cache and how many probes at once. */
export interface ChooseOptions extends ProbeOptions {
  /** The verdict cache, e.g. `<dataDir>/encoder-probe.json`; none means always probe. */
  cacheFile?: string;
  /**
   * Probes at once. Default 1: test encodes in parallel would slow each other and fail the
   * real-time speed check on a small board.
   */
  concurrency?: number;
}

/** Every candidate's verdict, and the working candidates in ladder order. */
export interface EncoderChoice {
  verdicts: EncoderVerdict[];
  working: EncoderCandidate[];
}

/** Probes a ladder (cached verdicts reused) and says which candidates work, best first. */
export async function chooseEncoders(
  candidates: EncoderCandidate[],
  settings: EncodeSettings,
  board: BoardInfo,
  opts: ChooseOptions = {},
): Promise<EncoderChoice> {
  const run = opts.run ?? runCommand;
  const cache = opts.cacheFile ? await loadVerdictCache(opts.cacheFile) : { version: 1 as const, entries: {} };
  const versionBefore = cache.ffmpeg?.id;
  const key = verdictKey(board, await ffmpegVersion(opts.ffmpeg ?? 'ffmpeg', run, cache), settings);
  const known = cache.entries[key] ?? {};
  const verdicts: EncoderVerdict[] = new Array(candidates.length);
  const todo: number[] = [];
  candidates.forEach((c, i) => {
    const hit = known[c.name];
    if (hit && hit.where === c.where) {
      const { at: _at, ...verdict } = hit;
      verdicts[i] = { ...verdict, cached: true };
    } else todo.push(i);
  });
  await pool(todo, Math.max(1, opts.concurrency ?? 1), async (i) => {
    verdicts[i] = await probeEncoder(candidates[i]!, settings, { ...opts, run });
  });
  let changed = cache.ffmpeg?.id !== versionBefore;
  const at = new Date().toISOString();
  for (const i of todo) {
    const v = verdicts[i]!;
    // A timeout may only mean the board was busy; ask again next time.
    if (v.reason?.startsWith(TIMEOUT_REASON)) continue;
    known[v.name] = { ...v, at };
    changed = true;
  }
  if (opts.cacheFile && changed) {
    cache.entries[key] = known;
    // The cache only saves time: a read-only data dir must not stop the agent.
    await saveVerdictCache(opts.cacheFile, cache).catch(() => undefined);
  }
  return { verdicts, working: candidates.filter((_, i) => verdicts[i]?.works) };
}

async function pool<T>(items: T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const workers = Array.from({ length: Math.min(size, queue.length) }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  });
  await Promise.all(workers);
}

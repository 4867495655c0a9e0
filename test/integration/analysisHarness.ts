/**
 * Shared by the analysis integration tests and the kill -9 child: small real MP4 archives made
 * by FFmpeg, and an AnalysisQueue wired as main.ts wires it (real SQLite store and outbox, the
 * real archive catalog, the Gemini client pointed at the fake server).
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { GeminiClient } from '../../agent/analysis/gemini.js';
import { AnalysisQueue, type AnalysisQueueDeps } from '../../agent/analysis/queue.js';
import { analysisPathFor, DiskArchiveCatalog } from '../../agent/archive/catalog.js';
import type { AgentConfig } from '../../agent/config/types.js';
import type { AgentEvent } from '../../agent/contract/events.js';
import type { AnalysisResult } from '../../agent/contract/messages.js';
import { buildTopics } from '../../agent/contract/topics.js';
import { Outbox } from '../../agent/outbox/outbox.js';
import { openStore, type Store } from '../../agent/store/store.js';
import { EventBus } from '../../agent/util/bus.js';
import type { Clock } from '../../agent/util/clock.js';
import { silentLogger } from '../../agent/util/logger.js';
import { agentConfig } from '../helpers/config.js';

const run = promisify(execFile);

/** The R/analysis topic the tests' outbox rows use. */
export const ANALYSIS_TOPIC = buildTopics('edge', 'test-device').analysis;

function stamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/**
 * A finished archive `<camera>/<date>/archive_<stamp>.mp4` under `root`: `moving` is FFmpeg's
 * test pattern, otherwise a still grey picture; `source` is any other lavfi graph (its `s` and
 * `r` given). Keyframes every second, like the pipeline's.
 */
export async function makeArchive(
  root: string,
  camera: string,
  startMs: number,
  options: { seconds?: number; moving?: boolean; source?: string; size?: string; fps?: number; bitrate?: string } = {},
): Promise<AgentEvent<'archive.finished'>> {
  const seconds = options.seconds ?? 3;
  const size = options.size ?? '160x120';
  const fps = options.fps ?? 10;
  const date = new Date(startMs).toISOString().slice(0, 10);
  const file = `${camera}/${date}/archive_${stamp(startMs)}.mp4`;
  await mkdir(path.join(root, camera, date), { recursive: true });
  const source =
    options.source ?? (options.moving === false ? `color=c=gray:s=${size}:r=${fps}` : `testsrc2=s=${size}:r=${fps}`);
  await run('ffmpeg', [
    '-v',
    'error',
    '-nostdin',
    '-y',
    '-f',
    'lavfi',
    '-i',
    source,
    '-t',
    String(seconds),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    ...(options.bitrate ? ['-b:v', options.bitrate] : []),
    '-force_key_frames',
    'expr:gte(t,n_forced*1)',
    '-sc_threshold',
    '0',
    '-pix_fmt',
    'yuv420p',
    '-movflags',
    '+faststart',
    path.join(root, file),
  ]);
  const { size: bytes } = await import('node:fs/promises').then((fs) => fs.stat(path.join(root, file)));
  return {
    type: 'archive.finished',
    ts: new Date().toISOString(),
    camera,
    file,
    start: new Date(startMs).toISOString(),
    seconds,
    bytes,
    clockSynced: true,
  };
}

/** A test config: analysis on against `baseUrl`, one small test camera, everything under `dir`. */
export function analysisConfig(
  dir: string,
  baseUrl: string,
  analysis: Partial<AgentConfig['analysis']> = {},
): AgentConfig {
  return agentConfig({
    cameras: [{ id: 'cam1', source: 'test', width: 160, height: 120, fps: 10 }],
    archive: { dir: path.join(dir, 'archive'), minFreePercent: 1 },
    // The duplicate gate's FFmpeg step stays off (the default) unless a test turns it on: tests
    // timed to the sub-second (deferral after 0.8 s) would otherwise measure it too.
    analysis: { enabled: true, baseUrl, ...analysis },
    dataDir: path.join(dir, 'data'),
  });
}

/** A queue wired like main.ts wires it, with handles for assertions. */
export interface Rig {
  queue: AnalysisQueue;
  bus: EventBus;
  db: Store;
  outbox: Outbox;
  config: AgentConfig;
  events: AgentEvent[];
  /** R/analysis payloads stored in the outbox, oldest first. */
  published(): AnalysisResult[];
  close(): Promise<void>;
}

/** Builds (not starts) a queue against the fake at `baseUrl`. */
export function makeRig(
  dir: string,
  baseUrl: string,
  options: {
    analysis?: Partial<AgentConfig['analysis']>;
    apiKey?: string;
    timeoutMs?: number;
    clock?: Clock;
    motion?: AnalysisQueueDeps['motion'];
    deps?: Partial<AnalysisQueueDeps>;
  } = {},
): Rig {
  const config = analysisConfig(dir, baseUrl, options.analysis);
  const db = openStore(config.dataDir);
  const log = silentLogger();
  const bus = new EventBus();
  const outbox = new Outbox({ db, log });
  outbox.start();
  const events: AgentEvent[] = [];
  bus.onAny((e) => events.push(e));
  const model = new GeminiClient({
    apiKey: options.apiKey ?? 'test-key',
    model: config.analysis.model,
    baseUrl,
    timeoutMs: options.timeoutMs ?? 5000,
    log,
  });
  const queue = new AnalysisQueue({
    db,
    bus,
    log,
    config: () => config,
    archives: new DiskArchiveCatalog(() => config.archive.dir),
    publish: (result) => void outbox.enqueue(ANALYSIS_TOPIC, result),
    model,
    resultPathFor: analysisPathFor,
    ...(options.motion ? { motion: options.motion } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    pollMs: 50,
    retry: { initialMs: 100, maxMs: 1000, maxAttempts: 5 },
    ...options.deps,
  });
  return {
    queue,
    bus,
    db,
    outbox,
    config,
    events,
    published: () =>
      outbox
        .peek(0, 1000)
        .filter((r) => r.topic === ANALYSIS_TOPIC)
        .map((r) => JSON.parse(r.payload) as AnalysisResult),
    close: async () => {
      await queue.stop();
      db.close();
    },
  };
}

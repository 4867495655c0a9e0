import { mkdir, open, readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ArchiveInfo } from '../contract/events.js';
import { writeFileAtomic } from '../util/files.js';
import type { Logger } from '../util/logger.js';
import { finishRecording } from './finisher.js';
import { parseStamp } from './segmentName.js';

/** Folder (under each camera's archive folder) holding the recordings still being written. */
export const PARTIAL_DIR = '.partial';
const RUN_FILE = 'run.json';
const LIST_FILE = 'segments.csv';

/** What is known of one FFmpeg run's recording timeline. */
export interface RunInfo {
  camera: string;
  /** The wall-clock boundary (ms) that output timestamps count from. */
  baseMs: number;
  clockSynced: boolean;
  /**
   * Where the run's first frame sits on the timeline (ms). FFmpeg's file name only has the
   * second it opened the file, up to a second off, so start + seconds would not meet the next cut.
   */
  firstMs?: number;
}

/** A finished archive and whether it closed cleanly (a cut or a stop) or was rescued after a fault. */
export type Finished = { info: ArchiveInfo; recovered: boolean };

interface ListEntry {
  file: string;
  start: number;
  end: number;
}

function parseList(text: string): ListEntry[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(','))
    .filter((cols) => cols.length >= 3 && cols[0])
    .map(([file, start, end]) => ({ file: file!, start: Number(start), end: Number(end) }));
}

/**
 * One FFmpeg run's recordings: the folder FFmpeg writes partial MPEG-TS segments and their list
 * into, and the finishing of each segment as it closes. Also syncs the segment being written
 * every second, so a power cut loses at most about that much.
 */
export class RecordingRun {
  readonly dir: string;
  private finishedCount = 0;
  private finishing: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: {
      archiveRoot: string;
      run: RunInfo;
      runId: string;
      log: Logger;
      onFinished: (finished: Finished) => void;
    },
  ) {
    this.dir = path.join(deps.archiveRoot, deps.run.camera, PARTIAL_DIR, deps.runId);
  }

  /** Creates the run's folder and records its timeline, before FFmpeg starts. */
  async prepare(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(path.join(this.dir, RUN_FILE), JSON.stringify(this.deps.run));
  }

  /** Finishes every segment FFmpeg has closed since the last call, and syncs the open one. */
  async poll(): Promise<void> {
    this.finishing = this.finishing.then(() => this.pollOnce()).catch((error: unknown) => {
      this.deps.log.error({ err: error }, 'finishing a recording failed');
    });
    await this.finishing;
  }

  /** After FFmpeg has exited: finishes everything left, then removes the run's folder. */
  async close(cleanExit: boolean): Promise<void> {
    await this.poll();
    this.finishing = this.finishing.then(() => finishRun(this.dir, this.deps, cleanExit ? 'none' : 'unlisted', this.finishedCount));
    await this.finishing;
  }

  private async pollOnce(): Promise<void> {
    const entries = await readList(this.dir);
    const newest = (await partialFiles(this.dir)).at(-1);
    for (const [index, entry] of entries.entries()) {
      if (index < this.finishedCount) continue;
      // Names have whole seconds: segments cut faster than one a second (a source catching up a
      // backlog, short archives) share a name, and FFmpeg reopened the file for the later one.
      if (entries[index + 1]?.file === entry.file) {
        this.deps.log.error({ file: entry.file, start: entry.start, end: entry.end }, 'recording segment overwritten by the next one (same second)');
        this.finishedCount = index + 1;
        continue;
      }
      // FFmpeg may be writing the next segment into this very name: wait until it has moved on
      // (or has exited: close() finishes the rest).
      if (index === entries.length - 1 && entry.file === newest) break;
      const startMs = entryStart(this.deps.run, entry, index);
      const info = await finishRecording({
        camera: this.deps.run.camera,
        partial: path.join(this.dir, entry.file),
        startMs,
        archiveRoot: this.deps.archiveRoot,
        clockSynced: this.deps.run.clockSynced,
      }).catch((error: NodeJS.ErrnoException) => {
        // A listed segment that is gone must not block every later archive of the run.
        if (error.code !== 'ENOENT') throw error;
        this.deps.log.error({ file: entry.file }, 'listed recording segment is missing; skipped');
        return null;
      });
      this.finishedCount = index + 1;
      if (info) this.deps.onFinished({ info, recovered: false });
    }
    await syncNewest(this.dir);
  }
}

async function readList(dir: string): Promise<ListEntry[]> {
  try {
    return parseList(await readFile(path.join(dir, LIST_FILE), 'utf8'));
  } catch {
    return [];
  }
}

/**
 * The first segment of a run starts whenever FFmpeg opened it, which its file name records; every
 * later one starts on the boundary FFmpeg cut at, exact on the run's timeline.
 */
function entryStart(run: RunInfo, entry: ListEntry, index: number): number {
  // Rounded to the millisecond first: 4.9999999 s from FFmpeg is the 5-s boundary, not 4.999.
  if (index > 0 && run.baseMs > 0) return run.baseMs + Math.round(entry.start * 1000);
  if (run.firstMs !== undefined) return run.firstMs;
  return parseStamp(entry.file) ?? run.baseMs + Math.round(entry.start * 1000);
}

async function partialFiles(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((name) => name.endsWith('.ts')).sort();
}

async function syncNewest(dir: string): Promise<void> {
  const newest = (await partialFiles(dir)).at(-1);
  if (!newest) return;
  const handle = await open(path.join(dir, newest), 'r').catch(() => null);
  if (!handle) return;
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/**
 * Finishes whatever partial segments a run folder still holds, then removes the folder.
 * `recovered` says which count as rescued: none (clean stop), the unlisted one (FFmpeg died), or
 * all (found at start-up). `alreadyFinished` counts list entries done before.
 */
async function finishRun(
  dir: string,
  deps: { archiveRoot: string; run: RunInfo; log: Logger; onFinished: (f: Finished) => void },
  recovered: 'unlisted' | 'all' | 'none',
  alreadyFinished: number,
): Promise<void> {
  const entries = await readList(dir);
  const listed = new Map(entries.map((entry, index) => [entry.file, { entry, index }]));
  const lastEnd = entries.at(-1)?.end;
  for (const file of await partialFiles(dir)) {
    const known = listed.get(file);
    if (known && known.index < alreadyFinished) continue;
    // baseMs 0: the run's timeline was lost (no run.json); every file name still has its stamp.
    const startMs = known
      ? entryStart(deps.run, known.entry, known.index)
      : entries.length > 0 && lastEnd !== undefined && deps.run.baseMs > 0
        ? deps.run.baseMs + Math.round(lastEnd * 1000)
        : (deps.run.firstMs ?? parseStamp(file) ?? deps.run.baseMs);
    const wasRecovered = recovered === 'all' || (recovered === 'unlisted' && !known);
    try {
      const info = await finishRecording(
        { camera: deps.run.camera, partial: path.join(dir, file), startMs, archiveRoot: deps.archiveRoot, clockSynced: deps.run.clockSynced },
        wasRecovered,
      );
      if (info) deps.onFinished({ info, recovered: wasRecovered });
    } catch (error) {
      // Keep the folder: the partial is still there for the next start to try again.
      deps.log.error({ err: error, file }, 'could not finish a partial recording; kept for the next start');
      return;
    }
  }
  await rm(dir, { recursive: true, force: true });
}

/**
 * At start-up: finishes the recordings that a crash, kill -9 or power cut left half-written
 * (event archive.recovered), before any new run begins.
 */
export async function recoverPartialRecordings(deps: {
  archiveRoot: string;
  camera: string;
  log: Logger;
  onFinished: (finished: Finished) => void;
}): Promise<void> {
  const root = path.join(deps.archiveRoot, deps.camera, PARTIAL_DIR);
  for (const runId of (await readdir(root).catch(() => [] as string[])).sort()) {
    const dir = path.join(root, runId);
    let run: RunInfo;
    try {
      run = JSON.parse(await readFile(path.join(dir, RUN_FILE), 'utf8')) as RunInfo;
    } catch {
      run = { camera: deps.camera, baseMs: 0, clockSynced: false };
    }
    deps.log.info({ dir }, 'recovering partial recordings left by an earlier run');
    // Nothing of an earlier run was announced: every segment it left is a recovery.
    await finishRun(dir, { ...deps, run: { ...run, camera: deps.camera } }, 'all', 0);
  }
}

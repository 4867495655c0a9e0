import { open, readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ArchiveInfo } from '../contract/events.js';
import { fsyncPath, mkdirDurable, writeFileAtomic } from '../util/files.js';
import type { Logger } from '../util/logger.js';
import { finishRecording, probeDuration } from './finisher.js';
import { runChecked } from '../util/run.js';

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
  /** Where the run's first frame was planned on the timeline (ms), if its file cannot tell. */
  firstMs?: number;
  /** The archive length the run was cut at (absent in run.json files of older versions). */
  segmentSeconds?: number;
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
  private lastListed: ListEntry | undefined;
  private readonly list: SegmentList;
  private finishing: Promise<void> = Promise.resolve();
  /** The partial whose directory entry is known durable (see syncNewest). */
  private syncedName: string | undefined;
  /** Whether the clock was synchronised at every look since the last cut (see pollOnce). */
  private syncedSinceCut: boolean;

  constructor(
    private readonly deps: {
      archiveRoot: string;
      run: RunInfo;
      runId: string;
      log: Logger;
      onFinished: (finished: Finished) => void;
      /** The clock's NTP state now; absent, the run's state at its start holds for all it records. */
      clockSynced?: () => Promise<boolean>;
    },
  ) {
    this.dir = path.join(deps.archiveRoot, deps.run.camera, PARTIAL_DIR, deps.runId);
    this.list = new SegmentList(path.join(this.dir, LIST_FILE));
    this.syncedSinceCut = deps.run.clockSynced;
  }

  /** Creates the run's folder and records its timeline, before FFmpeg starts. */
  async prepare(): Promise<void> {
    await mkdirDurable(this.dir);
    await writeFileAtomic(path.join(this.dir, RUN_FILE), JSON.stringify(this.deps.run));
  }

  /** Finishes every segment FFmpeg has closed since the last call, and syncs the open one. */
  async poll(): Promise<void> {
    this.finishing = this.finishing
      .then(() => this.pollOnce())
      .catch((error: unknown) => {
        this.deps.log.error({ err: error }, 'finishing a recording failed');
      });
    await this.finishing;
  }

  /** After FFmpeg has exited: finishes everything left, then removes the run's folder. */
  async close(cleanExit: boolean): Promise<void> {
    await this.poll();
    this.finishing = this.finishing.then(() =>
      finishRun(
        this.dir,
        { ...this.deps, run: { ...this.deps.run, clockSynced: this.syncedSinceCut } },
        cleanExit ? 'none' : 'unlisted',
        this.finishedCount,
      ),
    );
    await this.finishing;
  }

  /**
   * A run lasts months, and NTP can synchronise (a slew, no step) or be lost meanwhile: each
   * archive is flagged synchronised only if the clock was at every once-a-second look from its
   * cut to its end, not by the run's state at its start.
   */
  private async pollOnce(): Promise<void> {
    const syncedNow = this.deps.clockSynced
      ? await this.deps.clockSynced().catch(() => false)
      : this.deps.run.clockSynced;
    for (const entry of await this.list.readNew()) {
      const clockSynced = this.syncedSinceCut && syncedNow;
      this.syncedSinceCut = syncedNow;
      const index = this.finishedCount;
      const listed = { entry, before: this.lastListed };
      const finish = async () =>
        finishRecording({
          camera: this.deps.run.camera,
          partial: path.join(this.dir, entry.file),
          startMs: await segmentStart(this.dir, this.deps.run, entry.file, listed),
          archiveRoot: this.deps.archiveRoot,
          clockSynced,
          segmentSeconds: this.deps.run.segmentSeconds,
        });
      const infos = await finish().catch((error: NodeJS.ErrnoException) => {
        // A listed segment that is gone must not block every later archive of the run.
        if (error.code !== 'ENOENT') throw error;
        this.deps.log.error({ file: entry.file }, 'listed recording segment is missing; skipped');
        return [];
      });
      this.finishedCount = index + 1;
      this.lastListed = entry;
      for (const info of infos) this.deps.onFinished({ info, recovered: false });
    }
    this.syncedSinceCut &&= syncedNow;
    this.syncedName = await syncNewest(this.dir, this.syncedName);
  }
}

/**
 * FFmpeg's segment list, read from where the last read stopped: a run can last months, and
 * re-reading the whole list every second would grow with it.
 */
class SegmentList {
  private offset = 0;
  private unfinishedLine = '';

  constructor(private readonly file: string) {}

  /** Entries completed since the last call (a line FFmpeg is still writing waits for its newline). */
  async readNew(): Promise<ListEntry[]> {
    const handle = await open(this.file, 'r').catch(() => null);
    if (!handle) return [];
    try {
      const { size } = await handle.stat();
      if (size <= this.offset) return [];
      const chunk = Buffer.alloc(size - this.offset);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, this.offset);
      this.offset += bytesRead;
      const text = this.unfinishedLine + chunk.toString('utf8', 0, bytesRead);
      const complete = text.lastIndexOf('\n') + 1;
      this.unfinishedLine = text.slice(complete);
      return parseList(text.slice(0, complete));
    } finally {
      await handle.close();
    }
  }
}

async function readList(dir: string): Promise<ListEntry[]> {
  try {
    return parseList(await readFile(path.join(dir, LIST_FILE), 'utf8'));
  } catch {
    return [];
  }
}

/** FFmpeg numbers a run's segments from 0 (`rec-000000.ts`); -1 for any other name. */
export function segmentIndex(file: string): number {
  const m = /^rec-(\d+)\.ts$/.exec(file);
  return m ? Number(m[1]) : -1;
}

/** Timestamp (s) of a recording's first video packet: where the run's first frame sits. */
async function firstPacketSeconds(file: string): Promise<number | null> {
  try {
    const stdout = await runChecked(
      'ffprobe',
      [
        '-v',
        'error',
        '-select_streams',
        'v:0',
        '-read_intervals',
        '%+#1',
        '-show_entries',
        'packet=pts_time',
        '-of',
        'csv=p=0',
        file,
      ],
      { timeoutMs: 10_000 },
    );
    const seconds = Number.parseFloat(stdout.trim().split('\n')[0] ?? '');
    return Number.isFinite(seconds) ? seconds : null;
  } catch {
    return null;
  }
}

/**
 * Wall-clock start (ms) of one partial segment. Every segment after the first starts where
 * FFmpeg cut, exact on the run's timeline (the list says where; an unlisted one, cut short by a
 * fault, starts where the one before it ended). The first keeps its own timestamps, so its first
 * packet says where the run's first frame sits. Rounded to the millisecond first: 4.9999999 s
 * from FFmpeg is the 5-s boundary. Without the run's timeline (run.json lost) the file's
 * modification time less its length is the best guess.
 */
async function segmentStart(
  dir: string,
  run: RunInfo,
  file: string,
  listed: { entry?: ListEntry; before?: ListEntry },
): Promise<number> {
  const index = segmentIndex(file);
  const at = (seconds: number) => run.baseMs + Math.round(seconds * 1000);
  if (run.baseMs > 0 && index > 0) {
    if (listed.entry?.file === file) return at(listed.entry.start);
    if (listed.before) return at(listed.before.end);
  }
  if (run.baseMs > 0 && index === 0) {
    const first = await firstPacketSeconds(path.join(dir, file));
    if (first !== null) return at(first);
    if (run.firstMs !== undefined) return run.firstMs;
  }
  const partial = path.join(dir, file);
  const { mtimeMs } = await stat(partial);
  return Math.round(mtimeMs - (await probeDuration(partial).catch(() => 0)) * 1000);
}

async function partialFiles(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((name) => name.endsWith('.ts')).sort();
}

/**
 * Syncs the data of the segment FFmpeg is writing; the first time a segment is seen, its folder
 * too, because FFmpeg never fsyncs the directory entry of a file it creates and a power cut
 * would otherwise lose the whole segment, however often its data was synced (the power-cut test
 * drops exactly that). Returns the newest segment's name.
 */
async function syncNewest(dir: string, known: string | undefined): Promise<string | undefined> {
  const newest = (await partialFiles(dir)).at(-1);
  if (!newest) return known;
  const handle = await open(path.join(dir, newest), 'r').catch(() => null);
  if (!handle) return known;
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
  if (newest !== known) await fsyncPath(dir);
  return newest;
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
  const listed = new Set(entries.map((entry) => entry.file));
  for (const file of await partialFiles(dir)) {
    const index = segmentIndex(file);
    const known = listed.has(file);
    if (known && index < alreadyFinished) continue;
    const wasRecovered = recovered === 'all' || (recovered === 'unlisted' && !known);
    try {
      const entry = entries[index];
      const startMs = await segmentStart(dir, deps.run, file, {
        entry: entry?.file === file ? entry : undefined,
        before: entries[index - 1],
      });
      const infos = await finishRecording(
        {
          camera: deps.run.camera,
          partial: path.join(dir, file),
          startMs,
          archiveRoot: deps.archiveRoot,
          clockSynced: deps.run.clockSynced,
          segmentSeconds: deps.run.segmentSeconds,
        },
        wasRecovered,
      );
      for (const info of infos) deps.onFinished({ info, recovered: wasRecovered });
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

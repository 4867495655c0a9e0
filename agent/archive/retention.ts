import { rm, stat } from 'node:fs/promises';
import { diskSpace, type DiskSpace } from '../util/disk.js';
import type { AgentConfig } from '../config/types.js';
import type { EventBus } from '../util/bus.js';

export type { DiskSpace } from '../util/disk.js';
import type { Logger } from '../util/logger.js';
import {
  analysisPathFor,
  archiveCameras,
  archiveDates,
  newestArchives,
  walkArchives,
  type ArchiveFile,
} from './catalog.js';
import { metaPathFor, readArchiveMeta } from './finisher.js';

/** How many of a camera's newest archives set its recording rate. */
const RATE_ARCHIVES = 12;
/** Slack past two archive lengths before a camera with no new archive counts as not recording. */
const RECORDING_MARGIN_MS = 5 * 60_000;

/** How often retention looks at the disk besides after every finished or recovered archive. */
const PASS_INTERVAL_MS = 60_000;

/** The archive keys retention reads, at every pass (a change applies at the next one). */
export type RetentionSettings = Pick<AgentConfig['archive'], 'dir' | 'maxAgeHours' | 'minFreePercent'>;

/** What retention is given. */
export interface RetentionDeps {
  config: () => { archive: RetentionSettings };
  bus: EventBus;
  log: Logger;
  now?: () => number;
  /** Injected so tests can give a small fake disk. */
  space?: () => Promise<DiskSpace>;
  /** Archives still waiting for analysis are deleted last. */
  isPendingAnalysis?: (file: string) => boolean;
}

/**
 * Keeps the archive disk from filling: deletes archives older than `maxAgeHours`, then the oldest
 * while free space is under `minFreePercent`. Partial recordings are never in its view.
 */
export class Retention {
  private stopListening: (() => void) | null = null;
  private passes: Promise<void> = Promise.resolve();
  private hours: number | null = null;

  constructor(private readonly deps: RetentionDeps) {}

  /** Runs a pass now, after every finished or recovered archive, and every minute. */
  start(): void {
    const { bus } = this.deps;
    const pass = () => this.schedulePass();
    const offs = [bus.on('archive.finished', pass), bus.on('archive.recovered', pass)];
    const timer = setInterval(pass, PASS_INTERVAL_MS);
    this.stopListening = () => {
      for (const off of offs) off();
      clearInterval(timer);
    };
    pass();
  }

  /** Stops listening; resolves when the pass under way has ended. */
  async stop(): Promise<void> {
    this.stopListening?.();
    this.stopListening = null;
    await this.passes;
  }

  /** Hours of recording left as of the last pass (see hoursLeft), to one decimal; null before one or with nothing recording. */
  recordingHoursLeft(): number | null {
    return this.hours;
  }

  // One pass at a time: two deleting the same oldest archive would announce it pruned twice.
  private schedulePass(): void {
    this.passes = this.passes
      .then(() => this.enforce())
      .then(() => this.hoursLeft())
      .then((hours) => {
        this.hours = hours === null ? null : Math.round(hours * 10) / 10;
      })
      .catch((error: unknown) => this.deps.log.error({ err: error }, 'retention failed'));
  }

  /**
   * One pass; returns the files deleted. Reads a day folder at a time, oldest first, and stops at
   * the first day that is young enough with space to spare: a pass after each archive then costs
   * a statfs and a few readdirs, not a walk of months of archives.
   */
  async enforce(): Promise<string[]> {
    const { dir: archiveRoot, maxAgeHours } = this.deps.config().archive;
    const now = (this.deps.now ?? Date.now)();
    const maxAgeMs = maxAgeHours * 3_600_000;
    const pending = this.deps.isPendingAnalysis ?? (() => false);
    const deleted: string[] = [];
    // Archives still waiting for analysis go only after every other one.
    const deferred: ArchiveFile[] = [];
    let spaceLow = await this.spaceLow();
    for (const date of await archiveDates(archiveRoot)) {
      const mayHoldOld = now - Date.parse(`${date}T00:00:00Z`) > maxAgeMs;
      if (!mayHoldOld && !spaceLow) break;
      for (const archive of await walkArchives(archiveRoot, { date })) {
        if (now - archive.startMs > maxAgeMs && (await this.clockWasSynced(archive))) {
          await this.remove(archive, 'age');
        } else if (!spaceLow) {
          continue;
        } else if (pending(archive.file)) {
          deferred.push(archive);
          continue;
        } else {
          await this.remove(archive, 'space');
        }
        deleted.push(archive.file);
        spaceLow = await this.spaceLow();
      }
    }
    for (const archive of deferred) {
      if (!spaceLow) break;
      await this.remove(archive, 'space');
      deleted.push(archive.file);
      spaceLow = await this.spaceLow();
    }
    return deleted;
  }

  /**
   * Hours of recording the free space above the floor still holds: that space over the byte rate
   * of every camera recording onto this disk now, each camera's rate from its newest archives. A
   * camera whose newest archive ended long ago (unplugged, removed from the config) records
   * nothing and adds nothing.
   */
  async hoursLeft(): Promise<number | null> {
    const now = (this.deps.now ?? Date.now)();
    let bytesPerSecond = 0;
    for (const camera of await archiveCameras(this.deps.config().archive.dir)) {
      bytesPerSecond += await this.cameraByteRate(camera, now);
    }
    if (bytesPerSecond === 0) return null;
    const space = await this.space();
    const usable = space.freeBytes - (space.totalBytes * this.deps.config().archive.minFreePercent) / 100;
    return Math.max(0, usable / bytesPerSecond / 3600);
  }

  /** One camera's recording rate (bytes/s) over its newest archives; 0 if it is not recording now. */
  private async cameraByteRate(camera: string, now: number): Promise<number> {
    let bytes = 0;
    let seconds = 0;
    let newestEnd = -Infinity;
    let longest = 0;
    for (const archive of await newestArchives(this.deps.config().archive.dir, RATE_ARCHIVES, camera)) {
      const s = await stat(archive.absolute).catch(() => null);
      if (!s) continue;
      const meta = (await readArchiveMeta(archive.absolute)) ?? {};
      // The sidecar's length; an archive without one ran from its start to its last write.
      const length =
        meta.seconds && meta.seconds > 0 ? meta.seconds : Math.max(1, (s.mtimeMs - archive.startMs) / 1000);
      bytes += s.size;
      seconds += length;
      longest = Math.max(longest, length);
      newestEnd = Math.max(newestEnd, archive.startMs + length * 1000);
    }
    // Recording now: its newest archive ended within two archive lengths (and a margin for finishing).
    const recording = now - newestEnd <= 2 * longest * 1000 + RECORDING_MARGIN_MS;
    return recording && seconds > 0 ? bytes / seconds : 0;
  }

  /** Free space under the floor; a file system that reports no size says nothing: never low. */
  private async spaceLow(): Promise<boolean> {
    const space = await this.space();
    return (
      space.totalBytes > 0 && (space.freeBytes / space.totalBytes) * 100 < this.deps.config().archive.minFreePercent
    );
  }

  /**
   * An archive recorded before NTP synchronised carries a name from a wrong clock (a board
   * without an RTC can boot days in the past): its age is unknown, so only the space rule may
   * delete it. Read only for archives the age rule would delete, so a pass stays cheap.
   */
  private async clockWasSynced(archive: ArchiveFile): Promise<boolean> {
    return (await readArchiveMeta(archive.absolute))?.clockSynced !== false;
  }

  private space(): Promise<DiskSpace> {
    return (this.deps.space ?? (() => diskSpace(this.deps.config().archive.dir)))();
  }

  private async remove(archive: ArchiveFile, reason: 'age' | 'space'): Promise<void> {
    const bytes = (await stat(archive.absolute).catch(() => null))?.size ?? 0;
    await rm(archive.absolute, { force: true });
    await rm(metaPathFor(archive.absolute), { force: true });
    await rm(analysisPathFor(archive.absolute), { force: true });
    this.deps.bus.emit('disk.pruned', { camera: archive.camera, file: archive.file, bytes, reason });
    this.deps.log.info({ file: archive.file, bytes, reason }, 'archive pruned');
  }
}

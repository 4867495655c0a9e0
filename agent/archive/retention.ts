import { readFile, rm, stat, statfs } from 'node:fs/promises';
import type { EventBus } from '../util/bus.js';
import type { Logger } from '../util/logger.js';
import { analysisPathFor, archiveDates, newestArchives, walkArchives, type ArchiveFile } from './catalog.js';
import { metaPathFor, type ArchiveMeta } from './finisher.js';

/** Free and total bytes of the archive file system. */
export interface DiskSpace {
  freeBytes: number;
  totalBytes: number;
}

/** Reads the archive file system's space (fs.statfs). */
export async function diskSpace(dir: string): Promise<DiskSpace> {
  const s = await statfs(dir);
  return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
}

/** What retention is given. */
export interface RetentionDeps {
  archiveRoot: string;
  maxAgeHours: number;
  minFreePercent: number;
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
  constructor(private readonly deps: RetentionDeps) {}

  /**
   * One pass; returns the files deleted. Reads a day folder at a time, oldest first, and stops at
   * the first day that is young enough with space to spare: a pass after each archive then costs
   * a statfs and a few readdirs, not a walk of months of archives.
   */
  async enforce(): Promise<string[]> {
    const { archiveRoot, maxAgeHours } = this.deps;
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

  /** Hours of recording the free space above the floor still holds at the recent bitrate. */
  async hoursLeft(): Promise<number | null> {
    const recent = await newestArchives(this.deps.archiveRoot, 12);
    let bytes = 0;
    let seconds = 0;
    for (const archive of recent) {
      const s = await stat(archive.absolute).catch(() => null);
      if (!s) continue;
      bytes += s.size;
      seconds += Math.max(1, (s.mtimeMs - archive.startMs) / 1000);
    }
    if (bytes === 0 || seconds === 0) return null;
    const space = await this.space();
    const usable = space.freeBytes - (space.totalBytes * this.deps.minFreePercent) / 100;
    return Math.max(0, usable / (bytes / seconds) / 3600);
  }

  /** Free space under the floor; a file system that reports no size says nothing: never low. */
  private async spaceLow(): Promise<boolean> {
    const space = await this.space();
    return space.totalBytes > 0 && (space.freeBytes / space.totalBytes) * 100 < this.deps.minFreePercent;
  }

  /**
   * An archive recorded before NTP synchronised carries a name from a wrong clock (a board
   * without an RTC can boot days in the past): its age is unknown, so only the space rule may
   * delete it. Read only for archives the age rule would delete, so a pass stays cheap.
   */
  private async clockWasSynced(archive: ArchiveFile): Promise<boolean> {
    const meta = await readFile(metaPathFor(archive.absolute), 'utf8')
      .then((text) => JSON.parse(text) as Partial<ArchiveMeta>)
      .catch(() => ({}) as Partial<ArchiveMeta>);
    return meta.clockSynced !== false;
  }

  private space(): Promise<DiskSpace> {
    return (this.deps.space ?? (() => diskSpace(this.deps.archiveRoot)))();
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

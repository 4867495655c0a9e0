import { readFile, rm, stat, statfs } from 'node:fs/promises';
import type { EventBus } from '../util/bus.js';
import type { Logger } from '../util/logger.js';
import { analysisPathFor, walkArchives, type ArchiveFile } from './catalog.js';
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

  /** One pass; returns the files deleted. */
  async enforce(): Promise<string[]> {
    const { maxAgeHours, minFreePercent } = this.deps;
    const now = (this.deps.now ?? Date.now)();
    const pending = this.deps.isPendingAnalysis ?? (() => false);
    const archives = await walkArchives(this.deps.archiveRoot);
    const deleted: string[] = [];
    for (const archive of archives) {
      if (now - archive.startMs > maxAgeHours * 3_600_000 && (await this.clockWasSynced(archive))) {
        await this.remove(archive, 'age');
        deleted.push(archive.file);
      }
    }
    const left = archives.filter((a) => !deleted.includes(a.file));
    // Oldest first, but archives still waiting for analysis only after all others.
    const order = [...left.filter((a) => !pending(a.file)), ...left.filter((a) => pending(a.file))];
    for (const archive of order) {
      const space = await this.space();
      // A file system that reports no size says nothing about free space: delete nothing for it.
      if (space.totalBytes <= 0 || (space.freeBytes / space.totalBytes) * 100 >= minFreePercent) break;
      await this.remove(archive, 'space');
      deleted.push(archive.file);
    }
    return deleted;
  }

  /** Hours of recording the free space above the floor still holds at the recent bitrate. */
  async hoursLeft(): Promise<number | null> {
    const recent = (await walkArchives(this.deps.archiveRoot)).slice(-12);
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

/** Free space of file systems, the one place that calls statfs. */
import { statfs } from 'node:fs/promises';
import path from 'node:path';

/** Free and total bytes of a file system. */
export interface DiskSpace {
  freeBytes: number;
  totalBytes: number;
}

/** The file system holding `dir`: bavail, not bfree, because the blocks reserved for root are not ours to fill. */
export async function diskSpace(dir: string): Promise<DiskSpace> {
  const s = await statfs(dir);
  return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
}

/**
 * The space at `dir` or, when it does not exist yet (archive.dir before the first archive), at
 * its nearest existing parent; null when nothing up to the root can be read.
 */
export async function nearestDiskSpace(
  dir: string,
  read: (dir: string) => Promise<DiskSpace> = diskSpace,
): Promise<{ at: string; space: DiskSpace } | null> {
  let current = path.resolve(dir);
  for (;;) {
    try {
      return { at: current, space: await read(current) };
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return null;
      current = parent;
    }
  }
}

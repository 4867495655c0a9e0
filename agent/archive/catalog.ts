import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { exists } from '../util/files.js';
import path from 'node:path';
import type { ArchiveCatalog, ArchiveEntry } from '../contract/services.js';
import { readArchiveMeta } from './finisher.js';
import { parseArchiveFileName } from './segmentName.js';

const DATE_DIR = /^\d{4}-\d{2}-\d{2}$/;
const CAMERA_DIR = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** The analysis result kept beside an archive (written by the analysis module). */
export function analysisPathFor(archivePath: string): string {
  return archivePath.replace(/\.mp4$/, '.analysis.json');
}

/** One archive on disk, found by walking `<root>/<camera>/<date>/`. */
export interface ArchiveFile {
  camera: string;
  /** Relative to the root, with forward slashes. */
  file: string;
  absolute: string;
  startMs: number;
}

/** The camera folders under `root` (or just the one given). */
export async function archiveCameras(root: string, camera?: string): Promise<string[]> {
  return camera ? [camera] : (await readdir(root).catch(() => [] as string[])).filter((c) => CAMERA_DIR.test(c));
}

/** The date folders (`YYYY-MM-DD`, UTC) any camera (or the one given) has, oldest first. */
export async function archiveDates(root: string, camera?: string): Promise<string[]> {
  const dates = new Set<string>();
  for (const cam of await archiveCameras(root, camera)) {
    for (const date of await readdir(path.join(root, cam)).catch(() => [] as string[]))
      if (DATE_DIR.test(date)) dates.add(date);
  }
  return [...dates].sort();
}

/**
 * Every finished archive under `root`, oldest first (by the start time in its name); only one
 * camera's, or only one date folder's, when asked (retention reads a day at a time).
 */
export async function walkArchives(
  root: string,
  only: { camera?: string; date?: string } = {},
): Promise<ArchiveFile[]> {
  const found: ArchiveFile[] = [];
  for (const cam of await archiveCameras(root, only.camera)) {
    const dates = only.date
      ? [only.date]
      : (await readdir(path.join(root, cam)).catch(() => [] as string[])).filter((d) => DATE_DIR.test(d));
    for (const date of dates) {
      for (const name of await readdir(path.join(root, cam, date)).catch(() => [] as string[])) {
        const startMs = parseArchiveFileName(name);
        if (startMs === null) continue;
        found.push({
          camera: cam,
          file: `${cam}/${date}/${name}`,
          absolute: path.join(root, cam, date, name),
          startMs,
        });
      }
    }
  }
  // Same second (a clock stepped back): the original first, then -1, -2, ... -10 in number order.
  const duplicate = (file: string) => Number(/-(\d+)\.mp4$/.exec(file)?.[1] ?? 0);
  return found.sort(
    (a, b) => a.startMs - b.startMs || duplicate(a.file) - duplicate(b.file) || a.file.localeCompare(b.file),
  );
}

/** The `count` newest archives (of one camera, if given), oldest first: reads the newest days only. */
export async function newestArchives(root: string, count: number, camera?: string): Promise<ArchiveFile[]> {
  let found: ArchiveFile[] = [];
  for (const date of (await archiveDates(root, camera)).reverse()) {
    if (found.length >= count) break;
    found = [...(await walkArchives(root, { camera, date })), ...found];
  }
  return found.slice(-count);
}

/** Lists and resolves the finished archives under `archive.dir`, read at every call (it follows a config change). */
export class DiskArchiveCatalog implements ArchiveCatalog {
  constructor(private readonly archiveDir: () => string) {}

  private get root(): string {
    return this.archiveDir();
  }

  async list(query: { camera?: string; limit?: number }): Promise<ArchiveEntry[]> {
    const files = (await newestArchives(this.root, query.limit ?? 100, query.camera)).reverse();
    return Promise.all(files.map((f) => this.entry(f)));
  }

  async resolve(file: string): Promise<string | null> {
    const parts = file.split('/');
    if (
      parts.length !== 3 ||
      !CAMERA_DIR.test(parts[0]!) ||
      !DATE_DIR.test(parts[1]!) ||
      parseArchiveFileName(parts[2]!) === null
    ) {
      return null;
    }
    const candidate = path.join(this.root, ...parts);
    try {
      // A symlink planted in the tree must not lead outside it.
      const [real, realRoot] = await Promise.all([realpath(candidate), realpath(this.root)]);
      return real.startsWith(realRoot + path.sep) ? real : null;
    } catch {
      return null;
    }
  }

  async analysis(file: string): Promise<object | null> {
    const archive = await this.resolve(file);
    if (!archive) return null;
    try {
      const parsed: unknown = JSON.parse(await readFile(analysisPathFor(archive), 'utf8'));
      return typeof parsed === 'object' && parsed !== null ? parsed : null;
    } catch {
      return null;
    }
  }

  private async entry(f: ArchiveFile): Promise<ArchiveEntry> {
    const [meta, info, analysed] = await Promise.all([
      readArchiveMeta(f.absolute).then((meta) => meta ?? {}),
      stat(f.absolute).catch(() => null),
      exists(analysisPathFor(f.absolute)),
    ]);
    return {
      camera: f.camera,
      file: f.file,
      start: meta.start ?? new Date(f.startMs).toISOString(),
      seconds: meta.seconds ?? 0,
      bytes: info?.size ?? 0,
      analysed,
      clockSynced: meta.clockSynced ?? true,
    };
  }
}

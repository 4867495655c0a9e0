/**
 * What the scenarios share: the archive tree read back from the sidecars, process-tree figures,
 * and a watcher of the live playlists.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { parseArchiveFileName } from '../../../agent/archive/segmentName.js';
import { processTree, procSample } from '../../bench/procstat.js';

/** One finished archive as its sidecar describes it. */
export interface ArchiveEntry {
  camera: string;
  /** Relative to archive.dir: `<camera>/<date>/archive_....mp4`. */
  file: string;
  startMs: number;
  seconds: number;
  recovered: boolean;
  bytes: number;
}

/** Every finished archive under `root` (all cameras), oldest first. */
export async function readArchives(root: string): Promise<ArchiveEntry[]> {
  const { stat } = await import('node:fs/promises');
  const out: ArchiveEntry[] = [];
  for (const camera of await readdir(root).catch(() => [] as string[])) {
    for (const day of await readdir(path.join(root, camera)).catch(() => [] as string[])) {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) continue;
      for (const name of await readdir(path.join(root, camera, day))) {
        if (!name.endsWith('.mp4') || parseArchiveFileName(name) === null) continue;
        const abs = path.join(root, camera, day, name);
        const meta = JSON.parse(await readFile(abs.replace(/\.mp4$/, '.json'), 'utf8').catch(() => '{}')) as {
          start?: string;
          seconds?: number;
          recovered?: boolean;
        };
        out.push({
          camera,
          file: `${camera}/${day}/${name}`,
          startMs: meta.start ? Date.parse(meta.start) : parseArchiveFileName(name)!,
          seconds: meta.seconds ?? 0,
          recovered: meta.recovered ?? false,
          bytes: (await stat(abs)).size,
        });
      }
    }
  }
  return out.sort((a, b) => a.startMs - b.startMs || a.file.localeCompare(b.file));
}

/** Gaps (seconds) between consecutive archives of one camera, larger than `tolerance`. */
export function gaps(
  archives: ArchiveEntry[],
  camera: string,
  tolerance = 0.3,
): Array<{ afterFile: string; fromMs: number; toMs: number; seconds: number }> {
  const list = archives.filter((a) => a.camera === camera);
  const out = [];
  for (let i = 1; i < list.length; i += 1) {
    const prev = list[i - 1]!;
    const end = prev.startMs + prev.seconds * 1000;
    const seconds = (list[i]!.startMs - end) / 1000;
    if (seconds > tolerance) out.push({ afterFile: prev.file, fromMs: end, toMs: list[i]!.startMs, seconds });
  }
  return out;
}

/** RSS (bytes), open fds and CPU seconds of a process and its descendants, at one instant. */
export interface TreeFigures {
  at: number;
  agentRss: number;
  agentFds: number;
  agentCpu: number;
  /**
   * RSS of the long-lived descendants only (FFmpeg pipelines, producers: up LONG_LIVED_SECONDS or
   * more): the finisher's ffprobe and remux run a few seconds per archive, and whichever of them a
   * sample caught would tilt the line by tens of MB on a loaded machine (seen in CI: 21 MB/min).
   */
  childRss: number;
  childFds: number;
  childCpu: number;
  children: number;
  /** Descendants younger than LONG_LIVED_SECONDS (the finisher's runs): these must not pile up. */
  shortLived: number;
}

/** Age from which a descendant counts as long-lived (TreeFigures.childRss). */
export const LONG_LIVED_SECONDS = 10;

async function uptimeSeconds(): Promise<number> {
  return Number.parseFloat(await readFile('/proc/uptime', 'utf8'));
}

async function fdCount(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])).length;
}

/** Samples the agent (pid) and every process below it. */
export async function sampleTree(pid: number): Promise<TreeFigures> {
  const tree = await processTree(pid);
  const figures: TreeFigures = {
    at: Date.now(),
    agentRss: 0,
    agentFds: 0,
    agentCpu: 0,
    childRss: 0,
    childFds: 0,
    childCpu: 0,
    children: tree.length - 1,
    shortLived: 0,
  };
  const now = await uptimeSeconds();
  for (const p of tree) {
    const s = await procSample(p);
    if (!s) continue;
    const fds = await fdCount(p);
    if (p === pid) Object.assign(figures, { agentRss: s.rss, agentFds: fds, agentCpu: s.cpu });
    else {
      if (now - s.startedSeconds >= LONG_LIVED_SECONDS) figures.childRss += s.rss;
      else figures.shortLived += 1;
      figures.childFds += fds;
      figures.childCpu += s.cpu;
    }
  }
  return figures;
}

/** Least-squares slope of y over x. */
export function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/**
 * Polls a live playlist's #EXT-X-MEDIA-SEQUENCE (plus its segment count: the newest segment's
 * number) and keeps the longest time it stood still.
 * A pipeline restart empties the folder; the playlist missing counts as standing still.
 */
export class HlsWatcher {
  longestStallMs = 0;
  polls = 0;
  private lastSeq: number | null = null;
  private lastChange = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly playlist: string,
    private readonly everyMs = 200,
  ) {}

  start(): void {
    this.lastChange = Date.now();
    this.timer = setInterval(() => void this.poll(), this.everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async poll(): Promise<void> {
    this.polls += 1;
    const text = await readFile(this.playlist, 'utf8').catch(() => '');
    const match = /#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text);
    const now = Date.now();
    // The newest segment's number: the media sequence alone stands still while the window fills.
    const seq = match ? Number(match[1]) + (text.match(/#EXTINF/g)?.length ?? 0) - 1 : null;
    if (seq !== null && seq !== this.lastSeq) {
      this.lastSeq = seq;
      this.lastChange = now;
    }
    this.longestStallMs = Math.max(this.longestStallMs, now - this.lastChange);
  }
}

/** The path a process sees for `file`, read from outside its mount namespace. */
export async function viaProcRoot(pid: number, file: string): Promise<string> {
  await readlink(`/proc/${pid}/root`);
  return path.join(`/proc/${pid}/root`, file);
}

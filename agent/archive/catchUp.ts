/**
 * The start-up catch-up: finished archives on disk that were never announced, because the agent
 * died between making an archive (archive protocol step 5) and announcing it (step 6), or because
 * recovery found the archive already made from its partial and only removed the partial. Each is
 * announced now as it would have been, with the same stable event id.
 */
import { stat } from 'node:fs/promises';
import type { AgentEvents, ArchiveInfo } from '../contract/events.js';
import { walkArchives, type ArchiveFile } from './catalog.js';
import { readArchiveMeta } from './finisher.js';

/** How far back the catch-up looks: a day's archives are a few hundred names per camera. */
export const CATCH_UP_DAYS = 7;

/** An event the catch-up emits for one unannounced archive. */
export type CatchUpEvent =
  | { type: 'archive.finished'; payload: AgentEvents['archive.finished'] }
  | { type: 'archive.recovered'; payload: AgentEvents['archive.recovered'] };

/** The reason an `archive.recovered` found by the catch-up carries. */
export const CATCH_UP_REASON = 'recording was cut short by a fault; announced at the next start';

/**
 * The unannounced archives under `root` that started since `since` (and within the last
 * CATCH_UP_DAYS), oldest first, as the events that announce them. An archive without a readable
 * sidecar was never finished by the agent (its sidecar comes before its name) and is skipped.
 */
export async function unannouncedArchives(
  root: string,
  opts: { since: number; now: number; announced: (file: string) => boolean },
): Promise<CatchUpEvent[]> {
  const from = Math.max(opts.since, opts.now - CATCH_UP_DAYS * 24 * 3600_000);
  const events: CatchUpEvent[] = [];
  for (const date of daysFrom(from, opts.now)) {
    for (const archive of await walkArchives(root, { date })) {
      if (archive.startMs < from || opts.announced(archive.file)) continue;
      const found = await describe(archive);
      if (found) events.push(found);
    }
  }
  return events;
}

/** The UTC day folders from `from` to `to` (a day either side: names follow the first frame). */
function daysFrom(from: number, to: number): string[] {
  const days: string[] = [];
  for (let t = from - 24 * 3600_000; t <= to + 24 * 3600_000; t += 24 * 3600_000)
    days.push(new Date(t).toISOString().slice(0, 10));
  return [...new Set(days)];
}

async function describe(archive: ArchiveFile): Promise<CatchUpEvent | null> {
  const [meta, info] = await Promise.all([readArchiveMeta(archive.absolute), stat(archive.absolute).catch(() => null)]);
  if (!meta || !info || typeof meta.start !== 'string') return null;
  const payload: ArchiveInfo = {
    camera: archive.camera,
    file: archive.file,
    start: meta.start,
    seconds: meta.seconds ?? 0,
    bytes: info.size,
    clockSynced: meta.clockSynced !== false,
  };
  return meta.recovered
    ? { type: 'archive.recovered', payload: { ...payload, reason: CATCH_UP_REASON } }
    : { type: 'archive.finished', payload };
}

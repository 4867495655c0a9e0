/** Names of finished archives and their folders, as the contract fixes them. */

const ARCHIVE_RE = /^archive_(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z(?:-(\d+))?\.mp4$/;

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** `YYYYMMDDTHHMMSSZ` for a UTC instant (whole seconds, rounded down). */
export function utcStamp(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}` +
    `T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`
  );
}

/** The date folder `YYYY-MM-DD` (UTC) an archive starting at `ms` goes into. */
export function dateFolder(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/**
 * `archive_YYYYMMDDTHHMMSSZ.mp4`; `duplicate` > 0 adds `-N` so that a clock stepped back never
 * overwrites an archive already there.
 */
export function archiveFileName(ms: number, duplicate = 0): string {
  return `archive_${utcStamp(ms)}${duplicate > 0 ? `-${duplicate}` : ''}.mp4`;
}

/** The start time (ms) an archive's name encodes, or null for any other file name. */
export function parseArchiveFileName(name: string): number | null {
  const m = ARCHIVE_RE.exec(name);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
}

/** The first wall-clock cut at or before `ms` for archives `segmentSeconds` long. */
export function boundaryAtOrBefore(ms: number, segmentSeconds: number): number {
  const period = segmentSeconds * 1000;
  return Math.floor(ms / period) * period;
}

/**
 * Which archives have been announced: an `archive.finished` or `archive.recovered` stored in the
 * outbox. The row and the outbox message are written in one transaction, so after any crash an
 * archive is either announced and recorded here, or neither; the start-up catch-up
 * (catchUp.ts) announces the second kind. Every archive event is sent once per archive.
 */
import type { Store } from '../store/store.js';

/** Rows are kept this long past the archive's start, longer than the catch-up looks back. */
const KEEP_MS = 9 * 24 * 3600_000;

/** The announced-archives ledger in the agent's store. */
export class AnnouncedArchives {
  constructor(
    private readonly db: Store,
    now: () => number = Date.now,
  ) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS archive_announced (
        file TEXT PRIMARY KEY,
        id TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        announced INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS archive_announced_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    `);
    // Archives made before the ledger existed were announced by an older version, or not at all
    // and long ago: the catch-up leaves them alone.
    db.prepare("INSERT OR IGNORE INTO archive_announced_meta (key, value) VALUES ('since', ?)").run(now());
  }

  /** When the ledger began (ms): no archive that started before it is caught up. */
  since(): number {
    return (this.db.prepare("SELECT value FROM archive_announced_meta WHERE key = 'since'").get() as { value: number })
      .value;
  }

  /**
   * Runs `announce` (the outbox write) in one transaction with the archive's ledger row, unless
   * the archive was announced already; returns whether it ran.
   */
  once(archive: { file: string; start: string }, id: string, announce: () => void, now = Date.now()): boolean {
    return this.db.transaction(() => {
      const info = this.db
        .prepare('INSERT OR IGNORE INTO archive_announced (file, id, start_ms, announced) VALUES (?, ?, ?, ?)')
        .run(archive.file, id, Date.parse(archive.start) || 0, now);
      if (info.changes === 0) return false;
      announce();
      return true;
    });
  }

  /** Whether the archive (relative path) was announced. */
  has(file: string): boolean {
    return this.db.prepare('SELECT 1 FROM archive_announced WHERE file = ?').get(file) !== undefined;
  }

  /** Forgets archives that started long enough ago that no catch-up looks at them. */
  prune(now = Date.now()): number {
    return Number(this.db.prepare('DELETE FROM archive_announced WHERE start_ms < ?').run(now - KEEP_MS).changes);
  }
}

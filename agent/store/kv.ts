/**
 * Small durable facts that must survive a power cut, in the agent's one SQLite database: the
 * MQTT session counter, the applied config version, and the signatures seen within the replay
 * window. Each write is its own synchronous=FULL transaction.
 */
import type { Store } from './store.js';

/** JSON values by name. */
export class KeyValue {
  constructor(private readonly db: Store) {
    db.exec('CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  }

  /** The stored value, or null when absent or unreadable. */
  get<T>(key: string): T | null {
    const row = this.db.prepare('SELECT value FROM kv WHERE key = ?').get(key) as { value: string } | undefined;
    if (!row) return null;
    try {
      return JSON.parse(row.value) as T;
    } catch {
      return null;
    }
  }

  /** Stores a JSON value, replacing the old one. */
  set(key: string, value: unknown): void {
    this.db
      .prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
      .run(key, JSON.stringify(value));
  }

  /** Increments an integer counter and returns the new value (1 the first time). */
  next(key: string): number {
    return this.db.transaction(() => {
      const value = (this.get<number>(key) ?? 0) + 1;
      this.set(key, value);
      return value;
    });
  }
}

/** Command signatures accepted within the replay window, so a restart does not reopen it. */
export class SeenSignatures {
  constructor(private readonly db: Store) {
    db.exec('CREATE TABLE IF NOT EXISTS seen_signatures (id TEXT PRIMARY KEY, expires INTEGER NOT NULL)');
  }

  /** Signatures still inside their window at `now` (ms). */
  load(now: number): Array<[string, number]> {
    const rows = this.db.prepare('SELECT id, expires FROM seen_signatures WHERE expires >= ?').all(now) as Array<{
      id: string;
      expires: number;
    }>;
    return rows.map((r) => [r.id, Number(r.expires)]);
  }

  /** Remembers one accepted signature until `expires` (ms). */
  add(id: string, expires: number): void {
    this.db.prepare('INSERT OR REPLACE INTO seen_signatures (id, expires) VALUES (?, ?)').run(id, expires);
  }

  /** Forgets the signatures whose window has passed. */
  prune(now: number): void {
    this.db.prepare('DELETE FROM seen_signatures WHERE expires < ?').run(now);
  }
}

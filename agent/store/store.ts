/**
 * The agent's one SQLite database, `<dataDir>/agent.db`. Each owner (outbox, analysis queue)
 * creates its own tables; this module only opens the file with settings that survive power cuts.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** An open store (a better-sqlite3 database). */
export type Store = Database.Database;

/** The database file inside a data directory. */
export function storePath(dataDir: string): string {
  return join(dataDir, 'agent.db');
}

/**
 * Opens (creating if needed) `<dataDir>/agent.db`: WAL so readers never block the writer, and
 * synchronous=FULL because an SD card losing power must not lose an acknowledged enqueue.
 */
export function openStore(dataDir: string): Store {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(storePath(dataDir));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  // Another process (a CLI reading status) may hold a read lock for a moment; wait, don't fail.
  db.pragma('busy_timeout = 5000');
  return db;
}

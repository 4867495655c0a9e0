/**
 * The agent's one SQLite database, `<dataDir>/agent.db`. Each owner (outbox, analysis queue)
 * creates its own tables; this module only opens the file with settings that survive power cuts.
 *
 * The engine is Node's own `node:sqlite` wherever the runtime has it (Node ≥ 22.13, which every
 * release ships or requires), so a release carries no native module: nothing is compiled or
 * downloaded on a board, and one `node_modules` serves arm64, armhf and x64. On older Node (a
 * developer's checkout on Node 20) it falls back to `better-sqlite3`, an optional dependency.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** A value SQLite can bind or return. */
export type SqlValue = string | number | bigint | null | Uint8Array;

export interface RunResult {
  changes: number | bigint;
  lastInsertRowid: number | bigint;
}

export interface Statement {
  run(...params: SqlValue[]): RunResult;
  get(...params: SqlValue[]): unknown;
  all(...params: SqlValue[]): unknown[];
}

/** An open store: the part of SQLite the agent uses, the same over either engine. */
export interface Store {
  readonly engine: 'node:sqlite' | 'better-sqlite3';
  exec(sql: string): void;
  prepare(sql: string): Statement;
  /** Runs `fn` inside one transaction: committed if it returns, rolled back if it throws. */
  transaction<T>(fn: () => T): T;
  /** One pragma's value (`journal_mode`, `synchronous`, …). */
  pragma(name: string): unknown;
  close(): void;
}

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
  const db = openEngine(storePath(dataDir));
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = FULL');
  // Another process (a CLI reading status) may hold a read lock for a moment; wait, don't fail.
  db.exec('PRAGMA busy_timeout = 5000');
  return db;
}

interface NodeSqlite {
  DatabaseSync: new (path: string) => {
    exec(sql: string): void;
    prepare(sql: string): Statement;
    close(): void;
  };
}

/** `node:sqlite` when this Node has it, without the one-time ExperimentalWarning on stderr (Node 22). */
function nodeSqlite(): NodeSqlite | null {
  const emit = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (type === 'ExperimentalWarning' && String(warning).includes('SQLite')) return;
    (emit as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return (process.getBuiltinModule?.('node:sqlite') as NodeSqlite | undefined) ?? null;
  } catch {
    return null;
  } finally {
    process.emitWarning = emit;
  }
}

function openEngine(file: string): Store {
  const sqlite = nodeSqlite();
  if (sqlite) return wrapNodeSqlite(new sqlite.DatabaseSync(file));
  return openBetterSqlite(file);
}

function wrapNodeSqlite(db: InstanceType<NodeSqlite['DatabaseSync']>): Store {
  // node:sqlite caches nothing; statements are compiled per prepare(), so keep them by SQL text.
  const statements = new Map<string, Statement>();
  let depth = 0;
  return {
    engine: 'node:sqlite',
    exec: (sql) => db.exec(sql),
    prepare(sql) {
      let statement = statements.get(sql);
      if (!statement) statements.set(sql, (statement = db.prepare(sql)));
      return statement;
    },
    transaction(fn) {
      // Nested calls join the outer transaction, as better-sqlite3's do (savepoints are not needed here).
      if (depth > 0) return fn();
      db.exec('BEGIN');
      depth++;
      try {
        const result = fn();
        db.exec('COMMIT');
        return result;
      } catch (err) {
        db.exec('ROLLBACK');
        throw err;
      } finally {
        depth--;
      }
    },
    pragma(name) {
      const row = db.prepare(`PRAGMA ${name}`).get() as Record<string, unknown> | undefined;
      return row ? Object.values(row)[0] : undefined;
    },
    close() {
      statements.clear();
      db.close();
    },
  };
}

interface BetterSqliteDatabase {
  exec(sql: string): void;
  prepare(sql: string): Statement;
  transaction<T>(fn: () => T): () => T;
  pragma(source: string, options: { simple: true }): unknown;
  close(): void;
}

function openBetterSqlite(file: string): Store {
  let Database: new (path: string) => BetterSqliteDatabase;
  try {
    Database = createRequire(import.meta.url)('better-sqlite3');
  } catch (err) {
    throw new Error(
      `this Node.js (${process.versions.node}) has no node:sqlite and better-sqlite3 is not installed: ` +
        `run the agent on Node.js 22.13 or newer (24 LTS recommended), or 'npm install better-sqlite3' (${(err as Error).message})`,
    );
  }
  const db = new Database(file);
  return {
    engine: 'better-sqlite3',
    exec: (sql) => db.exec(sql),
    prepare: (sql) => db.prepare(sql),
    transaction: (fn) => db.transaction(fn)(),
    pragma: (name) => db.pragma(name, { simple: true }),
    close: () => db.close(),
  };
}

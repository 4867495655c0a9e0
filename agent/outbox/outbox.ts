/**
 * The durable outbox: what the back end must not miss (events, analysis results) is written to
 * SQLite before it is sent and deleted only when the broker acknowledged it (PUBACK).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../util/logger.js';
import type { Store } from '../store/store.js';
import type { DurableTopicKind, OutboxStats, TopicPayloads, Unsent } from '../contract/messages.js';
import type { Topic } from '../contract/topics.js';

/** One stored message, oldest first by `seq`. */
export interface OutboxRow {
  seq: number;
  id: string;
  topic: string;
  /** The JSON text to publish (already carrying `id`). */
  payload: string;
}

/** What the outbox needs. */
export interface OutboxDeps {
  db: Store;
  log: Logger;
  /** Most messages kept; past it the oldest are dropped and counted. */
  cap?: number;
  newId?: () => string;
}

/** Default cap: at one event a minute that is a week of outage; rows are small. */
export const DEFAULT_OUTBOX_CAP = 10_000;

/** The durable, bounded, ordered outbox. */
export class Outbox {
  private listeners = new Set<() => void>();

  constructor(private readonly deps: OutboxDeps) {}

  /** Creates the tables (idempotent). */
  start(): void {
    this.deps.db.exec(`
      CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        topic TEXT NOT NULL,
        payload TEXT NOT NULL,
        created INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS outbox_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
      INSERT OR IGNORE INTO outbox_meta (key, value) VALUES ('dropped', 0);
    `);
  }

  /** Nothing to release: the store belongs to whoever opened it. */
  stop(): void {
    this.listeners.clear();
  }

  /**
   * Stores one message (adding a stable `id` field consumers dedupe on) and tells listeners.
   * Returns the row. Written before anyone tries to send it.
   */
  enqueue<K extends DurableTopicKind>(topic: Topic<K>, payload: Unsent<TopicPayloads[K]>): OutboxRow {
    const given = payload.id;
    const id = typeof given === 'string' ? given : (this.deps.newId ?? randomUUID)();
    const text = JSON.stringify({ ...payload, id });
    const cap = this.deps.cap ?? DEFAULT_OUTBOX_CAP;
    const db = this.deps.db;
    const row = db.transaction(() => {
      const info = db
        .prepare('INSERT INTO outbox (id, topic, payload, created) VALUES (?, ?, ?, ?)')
        .run(id, topic, text, Date.now());
      const excess = this.depth() - cap;
      if (excess > 0) {
        db.prepare('DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)').run(excess);
        db.prepare("UPDATE outbox_meta SET value = value + ? WHERE key = 'dropped'").run(excess);
        this.deps.log.warn({ dropped: excess, cap }, 'outbox full, oldest messages dropped');
      }
      return { seq: Number(info.lastInsertRowid), id, topic, payload: text };
    });
    for (const listener of this.listeners) listener();
    return row;
  }

  /** Up to `limit` messages with `seq` greater than `afterSeq`, oldest first. */
  peek(afterSeq: number, limit: number): OutboxRow[] {
    return this.deps.db
      .prepare('SELECT seq, id, topic, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?')
      .all(afterSeq, limit) as OutboxRow[];
  }

  /** Removes a message the broker acknowledged (a no-op if it was already dropped). */
  ack(seq: number): void {
    this.deps.db.prepare('DELETE FROM outbox WHERE seq = ?').run(seq);
  }

  /** Removes a message the broker refused for good, counting it as dropped. */
  reject(seq: number): void {
    const db = this.deps.db;
    db.transaction(() => {
      const info = db.prepare('DELETE FROM outbox WHERE seq = ?').run(seq);
      if (info.changes > 0) db.prepare("UPDATE outbox_meta SET value = value + 1 WHERE key = 'dropped'").run();
    });
  }

  /** Messages waiting for a PUBACK. */
  depth(): number {
    return (this.deps.db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n;
  }

  /** Messages dropped since the store was created (cap overflow or refused by the broker). */
  dropped(): number {
    const row = this.deps.db.prepare("SELECT value FROM outbox_meta WHERE key = 'dropped'").get() as
      { value: number } | undefined;
    return row?.value ?? 0;
  }

  /** Depth and dropped count, for R/health and /api/status. */
  stats(): OutboxStats {
    return { depth: this.depth(), dropped: this.dropped() };
  }

  /** Calls `listener` after every enqueue (the sender wakes up); returns the unsubscribe function. */
  onEnqueue(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/**
 * Analysis jobs, daily totals and each camera's last analysed scene in the agent's SQLite store
 * (tables `analysis_jobs`, `analysis_days`, `analysis_scenes`). Every step a job takes that costs money or bandwidth (upload, answer) is
 * written here before the next one starts, so a kill -9 resumes where it stopped.
 */
import type { SqlValue, Store } from '../store/store.js';

/** Where a job is: `pending` until it ends `done`, `failed` or `skipped`. */
export type JobState = 'pending' | 'done' | 'failed' | 'skipped';

/** One stored job. */
export interface Job {
  id: number;
  camera: string;
  /** Relative to archive.dir. */
  file: string;
  /** The archive's start (ms) and length (s, null until measured). */
  startMs: number;
  seconds: number | null;
  state: JobState;
  /** Failed tries so far (retryable ones). */
  attempts: number;
  /** Earliest time (ms) of the next try. */
  nextAt: number;
  /** The uploaded proxy, while it exists on the API's side. */
  uploadName: string | null;
  uploadUri: string | null;
  uploadExpires: number | null;
  /** The UTC day this job was counted against `maxPerDay` (counted once, at its first upload). */
  countedDay: string | null;
  /** The summarised motion timeline (JSON), captured when the job was made. */
  motion: string | null;
  /** The archive's motion score (largest per-second score), the queue's first priority; null: not measured. */
  score: number | null;
  /** When `analysis.deferred` was sent for it (once per job), or null. */
  deferredAt: number | null;
  /** Why its last try failed, in `analysis.deferred` terms (quota, offline, error), or null. */
  waitReason: string | null;
  /** The clip's scene signature (scene.ts), once taken; it becomes its camera's last scene when the job is done. */
  scene: string | null;
  /** 1 when a person asked for it (the `analyze` command): no gate skips it. */
  requested: number;
  /** The finished R/analysis payload (JSON), stored before it is written and published. */
  result: string | null;
  lastError: string | null;
  created: number;
}

/** Totals of one UTC day. */
export interface DayTotals {
  day: string;
  /** Archives sent to the model (counted against maxPerDay). */
  sent: number;
  done: number;
  failed: number;
  skipped: number;
  tokens: number;
  /** generateContent calls answered (what a daily request quota counts). */
  requests: number;
}

const COLUMNS = `id, camera, file, start_ms AS startMs, seconds, state, attempts, next_at AS nextAt,
  upload_name AS uploadName, upload_uri AS uploadUri, upload_expires AS uploadExpires,
  counted_day AS countedDay, motion, score, deferred_at AS deferredAt, wait_reason AS waitReason, scene, requested, result,
  last_error AS lastError, created`;

/** Columns added after the first release: added to an existing database at init. */
const ADDED_COLUMNS: Array<[table: string, column: string, type: string]> = [
  ['analysis_jobs', 'score', 'REAL'],
  ['analysis_jobs', 'deferred_at', 'INTEGER'],
  ['analysis_jobs', 'wait_reason', 'TEXT'],
  ['analysis_days', 'requests', 'INTEGER NOT NULL DEFAULT 0'],
  ['analysis_jobs', 'scene', 'TEXT'],
  ['analysis_jobs', 'requested', 'INTEGER NOT NULL DEFAULT 0'],
];

const DAY_KEYS = ['sent', 'done', 'failed', 'skipped', 'tokens', 'requests'];

/** The UTC day `YYYY-MM-DD` of an instant. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Typed access to the two tables. */
export class JobStore {
  constructor(private readonly db: Store) {}

  /** Creates the tables (idempotent). */
  init(): void {
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS analysis_jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        camera TEXT NOT NULL,
        file TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        seconds REAL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL DEFAULT 0,
        upload_name TEXT, upload_uri TEXT, upload_expires INTEGER,
        counted_day TEXT,
        motion TEXT, result TEXT, last_error TEXT,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS analysis_jobs_state ON analysis_jobs (state, id);
      CREATE INDEX IF NOT EXISTS analysis_jobs_file ON analysis_jobs (file);
      CREATE TABLE IF NOT EXISTS analysis_days (
        day TEXT PRIMARY KEY,
        sent INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0, skipped INTEGER NOT NULL DEFAULT 0,
        tokens INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE IF NOT EXISTS analysis_scenes (
        camera TEXT PRIMARY KEY,
        signature TEXT NOT NULL,
        file TEXT NOT NULL,
        updated INTEGER NOT NULL
      );
    `);
    for (const [table, column, type] of ADDED_COLUMNS) {
      const columns = this.db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>;
      if (!columns.some((c) => c.name === column)) this.db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
    }
  }

  /** Adds a job; `state` other than pending records a decision already taken (skipped). */
  insert(job: {
    camera: string;
    file: string;
    startMs: number;
    seconds: number | null;
    motion: string | null;
    score?: number | null;
    state?: JobState;
    requested?: boolean;
    now: number;
  }): Job {
    const info = this.db
      .prepare(
        `INSERT INTO analysis_jobs (camera, file, start_ms, seconds, state, motion, score, requested, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        job.camera,
        job.file,
        job.startMs,
        job.seconds,
        job.state ?? 'pending',
        job.motion,
        job.score ?? null,
        job.requested ? 1 : 0,
        job.now,
        job.now,
      );
    return this.get(Number(info.lastInsertRowid))!;
  }

  get(id: number): Job | undefined {
    return this.db.prepare(`SELECT ${COLUMNS} FROM analysis_jobs WHERE id = ?`).get(id) as Job | undefined;
  }

  /** Any job ever made for this archive (the bus may announce one twice). */
  hasAny(file: string): boolean {
    return this.db.prepare('SELECT 1 FROM analysis_jobs WHERE file = ? LIMIT 1').get(file) !== undefined;
  }

  /** Whether a job for this archive is still pending. */
  isPending(file: string): boolean {
    return (
      this.db.prepare("SELECT 1 FROM analysis_jobs WHERE file = ? AND state = 'pending' LIMIT 1").get(file) !==
      undefined
    );
  }

  /** The pending job of an archive, if any. */
  pendingFor(file: string): Job | undefined {
    return this.db
      .prepare(`SELECT ${COLUMNS} FROM analysis_jobs WHERE file = ? AND state = 'pending' LIMIT 1`)
      .get(file) as Job | undefined;
  }

  /**
   * Pending jobs in priority order: the largest motion score first (unmeasured counts as 0), then
   * the oldest, so a budget that runs short is spent on the clips where something happened.
   */
  pending(): Job[] {
    return this.db
      .prepare(`SELECT ${COLUMNS} FROM analysis_jobs WHERE state = 'pending' ORDER BY COALESCE(score, 0) DESC, id`)
      .all() as Job[];
  }

  pendingCount(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM analysis_jobs WHERE state = 'pending'").get() as { n: number })
      .n;
  }

  /** Updates some columns of a job. */
  update(id: number, fields: Partial<Omit<Job, 'id' | 'created'>>, now: number): void {
    const map: Record<string, string> = {
      seconds: 'seconds',
      state: 'state',
      attempts: 'attempts',
      nextAt: 'next_at',
      uploadName: 'upload_name',
      uploadUri: 'upload_uri',
      uploadExpires: 'upload_expires',
      countedDay: 'counted_day',
      motion: 'motion',
      result: 'result',
      lastError: 'last_error',
      score: 'score',
      deferredAt: 'deferred_at',
      waitReason: 'wait_reason',
      scene: 'scene',
    };
    const keys = Object.keys(fields).filter((k) => k in map);
    if (keys.length === 0) return;
    const sets = keys.map((k) => `${map[k]} = ?`).join(', ');
    const values = keys.map((k) => ((fields as Record<string, unknown>)[k] ?? null) as SqlValue);
    this.db.prepare(`UPDATE analysis_jobs SET ${sets}, updated = ? WHERE id = ?`).run(...values, now, id);
  }

  /** Adds to one day's totals. */
  count(day: string, add: Partial<Omit<DayTotals, 'day'>>): void {
    this.db.prepare('INSERT OR IGNORE INTO analysis_days (day) VALUES (?)').run(day);
    for (const [key, value] of Object.entries(add)) {
      if (!DAY_KEYS.includes(key) || !value) continue;
      this.db.prepare(`UPDATE analysis_days SET ${key} = ${key} + ? WHERE day = ?`).run(value, day);
    }
  }

  /** One day's totals (zeros for a day with none). */
  day(day: string): DayTotals {
    const row = this.db
      .prepare('SELECT day, sent, done, failed, skipped, tokens, requests FROM analysis_days WHERE day = ?')
      .get(day) as DayTotals | undefined;
    return row ? { ...row } : { day, sent: 0, done: 0, failed: 0, skipped: 0, tokens: 0, requests: 0 };
  }

  /** Failed jobs ever (for health). */
  failedTotal(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM analysis_jobs WHERE state = 'failed'").get() as { n: number }).n;
  }

  /** Jobs ever deferred (for health). */
  deferredTotal(): number {
    return (
      this.db.prepare('SELECT COUNT(*) AS n FROM analysis_jobs WHERE deferred_at IS NOT NULL').get() as { n: number }
    ).n;
  }

  /** Deletes finished jobs last touched before `beforeMs` (pending ones are never pruned). */
  pruneFinished(beforeMs: number): void {
    this.db.prepare("DELETE FROM analysis_jobs WHERE state != 'pending' AND updated < ?").run(beforeMs);
  }

  /** The scene of the last clip of `camera` the model analysed, or null before the first. */
  lastScene(camera: string): { signature: string; file: string } | null {
    const row = this.db.prepare('SELECT signature, file FROM analysis_scenes WHERE camera = ?').get(camera) as
      { signature: string; file: string } | undefined;
    return row ? { ...row } : null;
  }

  /** Makes a clip's scene its camera's last analysed one (in the transaction that marks the job done). */
  setLastScene(camera: string, signature: string, file: string, now: number): void {
    this.db
      .prepare(
        'INSERT INTO analysis_scenes (camera, signature, file, updated) VALUES (?, ?, ?, ?) ON CONFLICT(camera) DO UPDATE SET signature = excluded.signature, file = excluded.file, updated = excluded.updated',
      )
      .run(camera, signature, file, now);
  }

  /** Runs `fn` in one transaction (publishing a result and marking its job done together). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn);
  }
}

/**
 * The full-text index of analysis results in the agent's SQLite store (FTS5, in both engines:
 * node:sqlite and better-sqlite3 build SQLite with it). One row per archive summary and one per
 * event the model found, so a hit can say where in the archive to start playing.
 *
 * Tables: `search_docs` (what a hit shows; rowid = the FTS row) and `search_fts`, an FTS5 table
 * over it (contentless: the text is stored once, in search_docs). Summary rows index the summary, event rows
 * their label and description; both index the camera. Results are added in the transaction that
 * publishes them, and removed when retention deletes their archive (a hit must play).
 */
import type { AnalysisResult } from '../contract/messages.js';
import { searchWords, type SearchHit, type SearchQuery, type SearchService } from '../contract/search.js';
import type { Store } from '../store/store.js';

interface DocRow {
  id: number;
  camera: string;
  archive: string;
  atMs: number;
  offset: number;
  kind: 'summary' | 'event';
  summary: string;
  label: string | null;
  description: string | null;
}

/** The FTS5 query for a user's words: each a quoted word prefix, all required (quoting makes any input safe). */
export function matchExpression(q: string): string {
  return searchWords(q)
    .map((word) => `"${word}"*`)
    .join(' ');
}

/** The search index: build with the store, `init()` once, then add, remove and search. */
export class SearchIndex implements SearchService {
  constructor(private readonly db: Store) {}

  /** Creates the tables (idempotent) and indexes results stored by the analysis queue before the index existed. */
  init(): void {
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS search_docs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        camera TEXT NOT NULL, archive TEXT NOT NULL, at_ms INTEGER NOT NULL, offset_s REAL NOT NULL,
        kind TEXT NOT NULL, summary TEXT NOT NULL, label TEXT, description TEXT
      );
      CREATE INDEX IF NOT EXISTS search_docs_archive ON search_docs (archive);
      CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
        summary, label, description, camera, content = '', tokenize = 'porter unicode61'
      );
    `);
    const hasJobs =
      this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'analysis_jobs'").get() !==
      undefined;
    if (!hasJobs) return;
    const missing = this.db
      .prepare(
        "SELECT result FROM analysis_jobs WHERE state = 'done' AND result IS NOT NULL AND file NOT IN (SELECT archive FROM search_docs)",
      )
      .all() as Array<{ result: string }>;
    this.db.transaction(() => {
      for (const row of missing) this.add(JSON.parse(row.result) as AnalysisResult);
    });
  }

  /** Indexes one result (again: its earlier rows are replaced). */
  add(result: AnalysisResult): void {
    this.db.transaction(() => {
      this.remove(result.archive);
      const startMs = Date.parse(result.start);
      this.insert({
        camera: result.camera,
        archive: result.archive,
        atMs: startMs,
        offset: 0,
        kind: 'summary',
        summary: result.summary,
        label: null,
        description: null,
      });
      for (const event of result.events) {
        const atMs = Date.parse(event.start);
        const offset = Number.isFinite(atMs) ? Math.max(0, (atMs - startMs) / 1000) : 0;
        this.insert({
          camera: result.camera,
          archive: result.archive,
          atMs: startMs + offset * 1000,
          offset,
          kind: 'event',
          summary: result.summary,
          label: event.label,
          description: event.description,
        });
      }
    });
  }

  /** Removes an archive's rows (retention deleted it). */
  remove(archive: string): void {
    const rows = this.db.prepare(`SELECT ${DOC_COLUMNS} FROM search_docs WHERE archive = ?`).all(archive) as DocRow[];
    for (const row of rows) {
      const [summary, label, description] = indexed(row);
      this.db
        .prepare(
          "INSERT INTO search_fts (search_fts, rowid, summary, label, description, camera) VALUES ('delete', ?, ?, ?, ?, ?)",
        )
        .run(row.id, summary, label, description, row.camera);
      this.db.prepare('DELETE FROM search_docs WHERE id = ?').run(row.id);
    }
  }

  /**
   * Hits newest first. An archive whose events match is shown by those events; its summary row
   * only when no event of it matched.
   */
  search(query: SearchQuery): SearchHit[] {
    const where = ['search_fts MATCH ?'];
    const params: Array<string | number> = [matchExpression(query.q)];
    if (query.camera !== undefined) (where.push('d.camera = ?'), params.push(query.camera));
    if (query.fromMs !== undefined) (where.push('d.at_ms >= ?'), params.push(query.fromMs));
    if (query.toMs !== undefined) (where.push('d.at_ms < ?'), params.push(query.toMs));
    const rows = this.db
      .prepare(
        `SELECT ${DOC_COLUMNS.replace(/(^|, )(\w)/g, '$1d.$2')} FROM search_fts JOIN search_docs d ON d.id = search_fts.rowid
        WHERE ${where.join(' AND ')} ORDER BY d.at_ms DESC, d.id LIMIT ?`,
      )
      .all(...params, query.limit * 4) as DocRow[];
    const withEvents = new Set(rows.filter((r) => r.kind === 'event').map((r) => r.archive));
    return rows
      .filter((r) => r.kind === 'event' || !withEvents.has(r.archive))
      .slice(0, query.limit)
      .map((r) => ({
        camera: r.camera,
        archive: r.archive,
        start: new Date(r.atMs).toISOString(),
        offsetSeconds: r.offset,
        summary: r.summary,
        ...(r.label !== null ? { label: r.label } : {}),
        ...(r.description !== null ? { description: r.description } : {}),
      }));
  }

  private insert(doc: Omit<DocRow, 'id'>): void {
    const info = this.db
      .prepare(
        'INSERT INTO search_docs (camera, archive, at_ms, offset_s, kind, summary, label, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(doc.camera, doc.archive, doc.atMs, doc.offset, doc.kind, doc.summary, doc.label, doc.description);
    const [summary, label, description] = indexed(doc);
    this.db
      .prepare('INSERT INTO search_fts (rowid, summary, label, description, camera) VALUES (?, ?, ?, ?, ?)')
      .run(Number(info.lastInsertRowid), summary, label, description, doc.camera);
  }
}

const DOC_COLUMNS = 'id, camera, archive, at_ms AS atMs, offset_s AS offset, kind, summary, label, description';

/** The text a row indexes: a summary row its summary, an event row its label and description. */
function indexed(doc: Omit<DocRow, 'id'>): [string, string, string] {
  return doc.kind === 'summary' ? [doc.summary, '', ''] : ['', doc.label ?? '', doc.description ?? ''];
}

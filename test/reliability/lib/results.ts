/**
 * The results table: each scenario writes its row as a small JSON file under
 * test-artifacts/reliability/ (test files run in parallel, so no shared file is edited), then the
 * Markdown table test-artifacts/reliability.md is rebuilt from every row present.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../helpers/agentProcess.js';

/** One line of the table. */
export interface ResultRow {
  /** Stable key, e.g. `faults.ffmpeg-kill`; the long and short runs keep separate rows. */
  id: string;
  scenario: string;
  /** `ci` (the short run inside npm test) or `long` (npm run reliability). */
  mode: 'ci' | 'long';
  /** How often / how long it was tried. */
  tried: string;
  /** What was lost; "nothing" or "nothing beyond the crash window (max x s)". */
  lost: string;
  /** Figures and remarks. */
  notes: string;
  passed: boolean;
}

const DIR = path.join(ROOT, 'test-artifacts', 'reliability');
const TABLE = path.join(ROOT, 'test-artifacts', 'reliability.md');

/** Whether the long versions were asked for (RELIABILITY_LONG=1 makes the soak 30 minutes). */
export const LONG = process.env.RELIABILITY_LONG === '1';

/** Stores one row and rebuilds the Markdown table. */
export function recordResult(row: Omit<ResultRow, 'passed'> & { passed?: boolean }, passed = row.passed ?? true): void {
  mkdirSync(DIR, { recursive: true });
  const full: ResultRow = { ...row, passed, notes: row.notes.replace(/\|/g, '/').replace(/\n/g, ' ') } as ResultRow;
  writeFileSync(
    path.join(DIR, `${row.id}.${row.mode}.json`),
    `${JSON.stringify({ ...full, at: new Date().toISOString() }, null, 2)}\n`,
  );
  writeFileSync(TABLE, renderTable());
}

/** The table from every stored row, scenarios in a fixed order, the long run before the CI one. */
export function renderTable(): string {
  const rows = readdirSync(DIR)
    .filter((name) => name.endsWith('.json'))
    .map((name) => JSON.parse(readFileSync(path.join(DIR, name), 'utf8')) as ResultRow & { at: string })
    .sort((a, b) => a.id.localeCompare(b.id) || a.mode.localeCompare(b.mode));
  const lines = [
    '| scenario | run | how often | lost | result | figures | when |',
    '|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${r.mode} | ${r.tried} | ${r.lost} | ${r.passed ? 'pass' : '**FAIL**'} | ${r.notes} | ${r.at.slice(0, 16)}Z |`,
    ),
  ];
  return `# Reliability results\n\nWritten by test/reliability (short runs: \`npm test\`, long runs: \`npm run reliability\`).\n\n${lines.join('\n')}\n`;
}

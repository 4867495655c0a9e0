/**
 * The roll-out's own state file: which boards are in which stage and how each ended. Written whole
 * after every change, so `fleet rollout` killed at any moment resumes where it was, and
 * `fleet status` can print it.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../util/files.js';

/** Where one board is in the roll-out. */
export type BoardOutcome = 'pending' | 'published' | 'done' | 'rolled-back' | 'failed' | 'timeout';

/** One board's line. */
export interface BoardProgress {
  stage: number;
  state: BoardOutcome;
  reason: string | null;
  /** When its desired release was published (ms): reports older than that are not its answer. */
  publishedAt: number | null;
  /** The `ts` of the document it was sent: a resumed roll-out sends the very same bytes again. */
  ts?: string | null;
  finishedAt: number | null;
}

/** The whole file. */
export interface RolloutState {
  format: 1;
  /** The release rolled out (its manifest's version and sha256). */
  version: string;
  sha256: string;
  url: string;
  topicPrefix: string;
  stages: string[][];
  boards: Record<string, BoardProgress>;
  status: 'running' | 'aborted' | 'done';
  reason: string | null;
  startedAt: string;
}

/** Outcomes that count as a failed board. */
export const FAILED: ReadonlySet<BoardOutcome> = new Set(['rolled-back', 'failed', 'timeout']);

/** Reads a state file; null when there is none. */
export async function loadRollout(file: string): Promise<RolloutState | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const state = JSON.parse(text) as RolloutState;
  if (state.format !== 1 || typeof state.boards !== 'object') throw new Error(`${file} is not a roll-out state file`);
  return state;
}

/** Writes the state file whole (temp file, fsync, rename). */
export function saveRollout(file: string, state: RolloutState): Promise<void> {
  return writeFileAtomic(file, `${JSON.stringify(state, null, 1)}\n`, 0o600);
}

/** Counts per outcome over the boards of some stages (all when `stages` is omitted). */
export function tally(state: RolloutState, stages?: number[]): Record<BoardOutcome, number> {
  const counts: Record<BoardOutcome, number> = {
    pending: 0,
    published: 0,
    done: 0,
    'rolled-back': 0,
    failed: 0,
    timeout: 0,
  };
  for (const board of Object.values(state.boards)) {
    if (!stages || stages.includes(board.stage)) counts[board.state] += 1;
  }
  return counts;
}

/** The status table `fleet status` prints: one line per board, then the totals. */
export function formatStatus(state: RolloutState): string {
  const ids = Object.keys(state.boards).sort(
    (a, b) => state.boards[a]!.stage - state.boards[b]!.stage || a.localeCompare(b),
  );
  const width = Math.max(6, ...ids.map((id) => id.length));
  const lines = [
    `roll-out of ${state.version}: ${state.status}${state.reason ? ` (${state.reason})` : ''}, ${state.stages.length} stage(s), ${ids.length} board(s)`,
    '',
  ];
  lines.push(`${'board'.padEnd(width)}  stage  ${'state'.padEnd(11)}  reason`);
  for (const id of ids) {
    const b = state.boards[id]!;
    lines.push(
      `${id.padEnd(width)}  ${String(b.stage + 1).padStart(5)}  ${b.state.padEnd(11)}  ${b.reason ?? ''}`.trimEnd(),
    );
  }
  const counts = tally(state);
  lines.push(
    '',
    Object.entries(counts)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', '),
  );
  return `${lines.join('\n')}\n`;
}

/** One board as the broker shows it now. */
export interface LiveBoard {
  id: string;
  report: {
    running?: string;
    update?: { state?: string; version?: string | null; reason?: string | null } | null;
  } | null;
  link: { state: string | null; ts: string | null } | null;
}

/**
 * `fleet status --broker`: the release each board runs, its update state, and when it was last
 * seen (its retained `R/status`: online since, or offline since its will or clean stop).
 */
export function formatLiveStatus(boards: LiveBoard[], now = Date.now()): string {
  const width = Math.max(6, ...boards.map((b) => b.id.length));
  const rows = boards.map((b) => {
    const update = b.report?.update;
    const seen = b.link?.ts ? `${b.link.ts} (${ago(now - Date.parse(b.link.ts))})` : 'never';
    return [
      b.id.padEnd(width),
      (b.report?.running ?? '?').padEnd(9),
      (update?.state ? `${update.state} ${update.version ?? ''}`.trim() : '-').padEnd(24),
      (b.link?.state ?? 'unknown').padEnd(8),
      seen,
    ].join('  ');
  });
  const online = boards.filter((b) => b.link?.state === 'online').length;
  const header = [`${'board'.padEnd(width)}`, 'release  ', 'update'.padEnd(24), 'link    ', 'last seen'].join('  ');
  return `${[header, ...rows, '', `${boards.length} board(s), ${online} online`].join('\n')}\n`;
}

function ago(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

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
  const counts: Record<BoardOutcome, number> = { pending: 0, published: 0, done: 0, 'rolled-back': 0, failed: 0, timeout: 0 };
  for (const board of Object.values(state.boards)) {
    if (!stages || stages.includes(board.stage)) counts[board.state] += 1;
  }
  return counts;
}

/** The status table `fleet status` prints: one line per board, then the totals. */
export function formatStatus(state: RolloutState): string {
  const ids = Object.keys(state.boards).sort((a, b) => state.boards[a]!.stage - state.boards[b]!.stage || a.localeCompare(b));
  const width = Math.max(6, ...ids.map((id) => id.length));
  const lines = [`roll-out of ${state.version}: ${state.status}${state.reason ? ` (${state.reason})` : ''}, ${state.stages.length} stage(s), ${ids.length} board(s)`, ''];
  lines.push(`${'board'.padEnd(width)}  stage  ${'state'.padEnd(11)}  reason`);
  for (const id of ids) {
    const b = state.boards[id]!;
    lines.push(`${id.padEnd(width)}  ${String(b.stage + 1).padStart(5)}  ${b.state.padEnd(11)}  ${b.reason ?? ''}`.trimEnd());
  }
  const counts = tally(state);
  lines.push('', Object.entries(counts).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', '));
  return `${lines.join('\n')}\n`;
}

/**
 * `edge-agent fleet rollout`, the engine: stage after stage, each board gets the release as its
 * retained `R/release/desired`; its retained `R/release` says how the update ended. Boards that
 * fail (rolled back, failed, no answer in time) count against the abort rule, checked after every
 * answer: no further board is asked once it trips. Every change is in the state file first, so a
 * roll-out killed anywhere resumes without asking a board twice.
 */
import { FAILED, saveRollout, tally, type BoardOutcome, type RolloutState } from './state.js';
import { shouldAbort } from './plan.js';

/** R/release as the engine reads it. */
export interface ReleaseReportLike {
  running?: string;
  update?: { state?: string; version?: string | null; reason?: string | null } | null;
  ts?: string;
}

/** The broker side of a roll-out (mqttFleet.ts; a fake in tests). */
export interface FleetLink {
  /** Publishes the desired release to one board, retained, QoS 1. */
  publishDesired(device: string, doc: Record<string, unknown>): Promise<void>;
  /** The newest R/release seen from a board (its retained one first), or null. */
  report(device: string): ReleaseReportLike | null;
  /** Resolves on the next report from any board, or after `ms`. */
  changed(ms: number): Promise<void>;
}

/** What the engine needs. */
export interface RolloutDeps {
  link: FleetLink;
  stateFile: string;
  /** The desired document for a board with this `ts` (signed when a command key is given): the same ts, the same bytes. */
  document: (device: string, ts: string) => Record<string, unknown>;
  abort: { percent: number; min: number };
  /** How long a board may take from its publish to a final answer. */
  boardTimeoutMs: number;
  now?: () => number;
  print: (line: string) => void;
}

// Board clocks and ours differ: a report this much older than our publish may still be its answer.
const CLOCK_SKEW_MS = 60_000;

/** How a board's report answers our publish, or null while it has not. */
export function judge(
  report: ReleaseReportLike | null,
  version: string,
  publishedAt: number,
): { state: BoardOutcome; reason: string | null } | null {
  if (!report) return null;
  const update = report.update ?? null;
  const fresh = Date.parse(report.ts ?? '') >= publishedAt - CLOCK_SKEW_MS;
  if (report.running === version && (!update || update.version !== version || update.state === 'done'))
    return { state: 'done', reason: null };
  if (!fresh || !update) return null;
  if (update.version === version || update.version === null) {
    if (update.state === 'rolled-back') return { state: 'rolled-back', reason: update.reason ?? null };
    if (update.state === 'failed') return { state: 'failed', reason: update.reason ?? null };
  }
  return null;
}

/** Runs (or resumes) a roll-out to its end: `done`, or `aborted` by the abort rule. */
export async function runRollout(state: RolloutState, deps: RolloutDeps): Promise<RolloutState> {
  const now = deps.now ?? Date.now;
  const save = () => saveRollout(deps.stateFile, state);
  const total = state.stages.length;
  // A run killed between recording a board as asked and asking it: ask again, with the very same
  // document, which a board that did get it recognises (its digest) and ignores.
  for (const [id, board] of Object.entries(state.boards)) {
    if (state.status === 'running' && board.state === 'published' && board.ts)
      await deps.link.publishDesired(id, deps.document(id, board.ts));
  }
  for (let i = 0; i < total && state.status === 'running'; i += 1) {
    const stage = state.stages[i]!;
    const open = () => stage.filter((id) => ['pending', 'published'].includes(state.boards[id]!.state));
    if (open().length === 0) continue;
    deps.print(`stage ${i + 1}/${total}${i === 0 ? ' (canary)' : ''}: ${stage.length} board(s)`);
    for (const id of stage) {
      const board = state.boards[id]!;
      if (board.state !== 'pending') continue;
      // Recorded before it is sent: a kill between the two sends it once more, never not at all.
      board.state = 'published';
      board.publishedAt = now();
      board.ts = new Date(board.publishedAt).toISOString();
      await save();
      await deps.link.publishDesired(id, deps.document(id, board.ts));
    }
    while (open().length > 0) {
      for (const id of open()) {
        const board = state.boards[id]!;
        const verdict = judge(deps.link.report(id), state.version, board.publishedAt ?? 0);
        const late = now() - (board.publishedAt ?? 0) > deps.boardTimeoutMs;
        if (!verdict && !late) continue;
        Object.assign(
          board,
          verdict ?? {
            state: 'timeout',
            reason: `no final R/release within ${Math.round(deps.boardTimeoutMs / 1000)} s`,
          },
          { finishedAt: now() },
        );
        deps.print(`  ${id}: ${board.state}${board.reason ? ` (${board.reason})` : ''}`);
        const counts = tally(state);
        const finished = counts.done + counts['rolled-back'] + counts.failed + counts.timeout;
        const failed = [...FAILED].reduce((n, k) => n + counts[k], 0);
        if (shouldAbort(finished, failed, deps.abort)) {
          state.status = 'aborted';
          state.reason = `${failed} of ${finished} board(s) failed (abort at ${deps.abort.percent} % of at least ${deps.abort.min})`;
        }
        await save();
        if (state.status === 'aborted') {
          deps.print(`aborted: ${state.reason}; no further board is asked`);
          return state;
        }
      }
      if (open().length > 0) await deps.link.changed(1000);
    }
    const c = tally(state, [i]);
    deps.print(
      `stage ${i + 1}/${total} through: ${c.done} done, ${c['rolled-back']} rolled back, ${c.failed} failed, ${c.timeout} timed out`,
    );
  }
  if (state.status === 'running') {
    state.status = 'done';
    await save();
    const c = tally(state);
    deps.print(`roll-out of ${state.version} done: ${c.done} done, ${c['rolled-back'] + c.failed + c.timeout} failed`);
  }
  return state;
}

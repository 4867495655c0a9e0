/**
 * The daily analysis budget: pure functions over a day's totals, so the queue's hold,
 * R/analysis/budget and `analysis.deferred` all read the same figures.
 */
import type { AnalysisBudgetMessage } from '../contract/messages.js';
import type { DayTotals } from './jobs.js';

/** The limits of one UTC day; null means none. */
export interface BudgetLimits {
  tokens: number | null;
  requests: number | null;
  /** `analysis.maxPerDay`: archives sent to the model (0 pauses analysis). */
  archives: number;
}

/** Why new work is held by the day's budget: `budget` (tokens or requests spent), `cap` (maxPerDay), or null. */
export type BudgetHold = 'budget' | 'cap' | null;

/** A configured daily limit as the queue uses it: null or 0 (the old environment variable's "none") mean no limit. */
export function dailyLimit(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : null;
}

/** The next UTC midnight after `ms`: when the day's counts start again. */
export function nextUtcMidnight(ms: number): number {
  return (Math.floor(ms / 86_400_000) + 1) * 86_400_000;
}

/** Whether the day's use holds new work, and by what. */
export function budgetHold(today: DayTotals, limits: BudgetLimits): BudgetHold {
  if (limits.tokens !== null && today.tokens >= limits.tokens) return 'budget';
  if (limits.requests !== null && today.requests >= limits.requests) return 'budget';
  if (today.sent >= limits.archives) return 'cap';
  return null;
}

/** The retained `R/analysis/budget` payload. */
export function budgetMessage(
  today: DayTotals,
  limits: BudgetLimits,
  queued: number,
  now: number,
): AnalysisBudgetMessage {
  return {
    tokensUsed: today.tokens,
    tokenLimit: limits.tokens,
    requestsUsed: today.requests,
    requestLimit: limits.requests,
    resetsAt: new Date(nextUtcMidnight(now)).toISOString(),
    queued,
    ts: new Date(now).toISOString(),
  };
}

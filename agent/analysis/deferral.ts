/**
 * `analysis.deferred`: a job still without a result `analysis.deferAfterMinutes` after it was
 * queued is announced once (stored with the job, so a restart does not repeat it), with the
 * reason it waits. The result itself still follows whenever it comes.
 */
import type { DeferReason } from '../contract/events.js';
import { archiveEventId } from '../contract/ids.js';
import type { EventBus } from '../util/bus.js';
import type { Logger } from '../util/logger.js';
import type { BudgetHold } from './budget.js';
import type { AnalysisError } from './errors.js';
import type { Job, JobStore } from './jobs.js';

/** A failed try in `analysis.deferred` terms: 429 is quota, an unreachable API offline, the rest error. */
export function failureReason(error: AnalysisError): Exclude<DeferReason, 'budget'> {
  if (error.status === 429) return 'quota';
  if (error.offline || error.status === 503) return 'offline';
  return 'error';
}

/**
 * Why a job has no result yet: the day's budget holds it, the API's 429 holds the queue, or the
 * reason its own last try (or, never tried, the queue's last try) failed. With nothing failing, a
 * job still in its first try is held up by a slow link (offline), and one waiting its turn behind
 * others by the API's throughput (quota).
 */
export function deferReason(
  job: Pick<Job, 'waitReason' | 'countedDay' | 'result'>,
  state: WaitState,
  active = false,
): DeferReason {
  if (state.hold !== null && !job.result && !(state.hold === 'cap' && job.countedDay)) return 'budget';
  if (state.rateLimited) return 'quota';
  const own = job.waitReason as DeferReason | null;
  return own ?? state.lastReason ?? (active ? 'offline' : 'quota');
}

/** What holds the queue at the moment of the check. */
export interface WaitState {
  hold: BudgetHold;
  rateLimited: boolean;
  /** Why the queue's last failed try failed. */
  lastReason: DeferReason | null;
  /** Whether a job is being worked right now. */
  isActive: (id: number) => boolean;
}

/** What the deferral watch needs (the queue's own deps). */
export interface DeferralDeps {
  jobs: JobStore;
  bus: EventBus;
  log: Logger;
  deviceId: string;
  afterMs: number;
}

/** Finds overdue jobs and announces each once. */
export class Deferral {
  constructor(private readonly deps: DeferralDeps) {}

  /** When each pending job not yet deferred becomes overdue (ms), for the queue's wake timer. */
  deadlines(pending: Job[]): number[] {
    return pending.filter((j) => j.deferredAt === null).map((j) => j.created + this.deps.afterMs);
  }

  /** Sends `analysis.deferred` for every overdue job, marking it in the same transaction. */
  check(now: number, pending: Job[], state: WaitState): void {
    const { jobs, bus, log, deviceId, afterMs } = this.deps;
    for (const job of pending) {
      if (job.deferredAt !== null || now - job.created < afterMs) continue;
      const reason = deferReason(job, state, state.isActive(job.id));
      const eventId = archiveEventId(deviceId, job.file);
      log.warn({ file: job.file, reason }, 'analysis deferred: no result yet, the result follows when it comes');
      jobs.transaction(() => {
        jobs.update(job.id, { deferredAt: now }, now);
        bus.emit('analysis.deferred', { camera: job.camera, archive: job.file, eventId, reason });
      });
    }
  }
}

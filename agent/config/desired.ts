/**
 * The fleet side of config: the back end's retained `R/config/desired` `{version, set}` in, the
 * agent's retained `R/config/reported` out. Versions only move forward; the last applied one is
 * persisted, so a restart or a reconnect (the broker re-delivers the retained document) changes
 * nothing twice.
 */
import { createHash } from 'node:crypto';
import type { ChangeOutcome, ChangeRequest } from '../contract/services.js';
import type { ReportedConfigMessage } from '../contract/messages.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { isPlainObject } from './checks.js';

/** What is remembered across restarts. */
export interface DesiredState {
  /** The highest version applied (0: none yet). */
  applied: number;
  /** The last document handled, to recognise the broker re-delivering it. */
  handled: number;
  digest: string;
}

/** What the desired-config handler needs. */
export interface DesiredConfigDeps {
  change(request: ChangeRequest): Promise<ChangeOutcome>;
  load(): DesiredState | null;
  save(state: DesiredState): void;
  report(message: ReportedConfigMessage): void;
  /** The effective config, redacted, for the report. */
  config(): unknown;
  /** Whether the document carries a valid signature (false when no command key is configured). */
  signed(doc: Record<string, unknown>): boolean;
  log: Logger;
  clock?: Clock;
}

const FIELDS = new Set(['version', 'set', 'sig', 'ts']);

/** Handles desired documents one at a time; while one is applied only the newest waiting one is kept. */
export class DesiredConfig {
  private waiting: Buffer | null = null;
  private draining: Promise<void> | null = null;

  constructor(private readonly deps: DesiredConfigDeps) {}

  /** Takes one `R/config/desired` payload; returns at once (the change runs in the background). */
  handle(payload: Buffer): void {
    // An empty retained payload is the back end clearing the topic, not a document.
    if (payload.length === 0) return;
    // A newer document supersedes one still waiting: only the latest desired state matters.
    this.waiting = payload;
    this.draining ??= this.drain().finally(() => {
      this.draining = null;
    });
  }

  /** Resolves when every document received so far has been handled (tests). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    while (this.waiting) {
      const payload = this.waiting;
      this.waiting = null;
      await this.process(payload).catch((error: unknown) =>
        this.deps.log.error({ err: error }, 'desired config failed'),
      );
    }
  }

  /** Handles one document; exported behaviour is the report it publishes. */
  async process(payload: Buffer): Promise<void> {
    const state = this.deps.load() ?? { applied: 0, handled: 0, digest: '' };
    const digest = createHash('sha256').update(payload).digest('hex');
    let doc: unknown;
    try {
      doc = JSON.parse(payload.toString('utf8'));
    } catch {
      doc = undefined;
    }
    const problem = docProblem(doc);
    const version = isPlainObject(doc) && Number.isSafeInteger(doc.version) ? (doc.version as number) : null;
    if (problem || !isPlainObject(doc) || version === null) {
      this.publish(version, {
        status: 'rejected',
        code: 400,
        message: problem ?? 'version must be a positive integer',
      });
      return;
    }
    if (version === state.handled && digest === state.digest) {
      this.deps.log.debug({ version }, 'desired config already handled');
      return;
    }
    if (version <= state.applied) {
      this.deps.save({ ...state, handled: version, digest });
      this.publish(version, {
        status: 'stale',
        code: 409,
        message: `version ${version} is not above the applied version ${state.applied}; nothing changed`,
      });
      return;
    }
    const outcome = await this.deps.change({
      sets: doc.set as Record<string, unknown>,
      signed: this.deps.signed(doc),
      origin: `desired v${version}`,
    });
    if (outcome.interrupted) return;
    this.deps.save({ applied: outcome.status === 'applied' ? version : state.applied, handled: version, digest });
    this.publish(version, { status: outcome.status, code: outcome.code, message: outcome.message });
  }

  private publish(version: number | null, outcome: Pick<ReportedConfigMessage, 'status' | 'code' | 'message'>): void {
    const ts = new Date((this.deps.clock ?? systemClock).now()).toISOString();
    this.deps.log.info({ version, status: outcome.status, code: outcome.code }, 'desired config handled');
    this.deps.report({ version, ...outcome, config: this.deps.config(), ts });
  }
}

function docProblem(doc: unknown): string | null {
  if (!isPlainObject(doc)) return 'desired config must be a json object {"version": n, "set": {...}}';
  const extra = Object.keys(doc).filter((k) => !FIELDS.has(k));
  if (extra.length > 0)
    return `desired config has unknown field(s) ${extra
      .slice(0, 5)
      .map((k) => JSON.stringify(k).slice(0, 40))
      .join(', ')}`;
  if (!Number.isSafeInteger(doc.version) || (doc.version as number) < 1)
    return `version must be a positive integer, got ${JSON.stringify(doc.version)?.slice(0, 40)}`;
  if (!isPlainObject(doc.set)) return 'set must be an object of "key.path": value';
  const keys = Object.keys(doc.set).length;
  if (keys === 0 || keys > 64) return `set must name between 1 and 64 keys, got ${keys}`;
  return null;
}

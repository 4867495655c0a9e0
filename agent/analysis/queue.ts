/**
 * The analysis module: a durable queue of archives to analyse, fed by `archive.finished` /
 * `archive.recovered` and the `analyze` command, worked by priority (motion score, then age)
 * with a small concurrency, held by the daily cap (`analysis.maxPerDay`), the daily token and
 * request budgets and the API's own 429 back-off; never dropped for any of them. A job without
 * a result `analysis.deferAfterMinutes` after it was queued sends `analysis.deferred` (once);
 * the result still follows. Still archives are skipped when `analysis.skipWhenStill` is on, still
 * ones whose scene matches the last analysed clip of their camera when `skipDuplicates` is
 * (the worker's first step, reason `duplicate`), and archives retention deletes before their turn
 * with reason `retention`.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { AgentConfig } from '../config/types.js';
import { AgentError } from '../contract/errors.js';
import type { AgentEvent, DeferReason } from '../contract/events.js';
import type { AnalysisBudgetMessage, AnalysisResult } from '../contract/messages.js';
import type { ArchiveCatalog } from '../contract/services.js';
import type { Store } from '../store/store.js';
import type { EventBus } from '../util/bus.js';
import { parseArchiveFileName } from '../archive/segmentName.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { summariseMotion } from './answer.js';
import { budgetHold, budgetMessage, dailyLimit, nextUtcMidnight, type BudgetLimits } from './budget.js';
import { Deferral, failureReason } from './deferral.js';
import { AbortedError, AnalysisError, ArchiveGoneError, SkipError } from './errors.js';
import { classify, type VideoModel } from './gemini.js';
import { JobStore, utcDay, type Job } from './jobs.js';
import type { MotionSample } from './motion.js';
import type { ProxyOptions } from './proxy.js';
import { RetryGate, type RetryPolicy } from './retry.js';
import { Worker } from './worker.js';

/** Below this per-second score (mean absolute grey difference, 0..1) a second counts as still. */
export const DEFAULT_STILL_THRESHOLD = 0.01;

/** What the queue needs; agent.ts builds it. */
export interface AnalysisQueueDeps {
  db: Store;
  bus: EventBus;
  log: Logger;
  /** The running config, read when it is needed. */
  config: () => AgentConfig;
  archives: ArchiveCatalog;
  /** Stores a result for R/analysis (LinkPublisher.publishAnalysis: an outbox row, synchronous). */
  publish: (result: AnalysisResult) => void;
  /** Indexes each result for search in the transaction that publishes it (SearchIndex). */
  index?: { add(result: AnalysisResult): void };
  /** Publishes the retained R/analysis/budget (LinkPublisher.publishBudget); called when a figure in it changes. */
  publishBudget?: (budget: AnalysisBudgetMessage) => void;
  /** The Gemini client; null when there is no API key (the queue then stays off and warns once). */
  model: VideoModel | null;
  /** Where the local copy of a result goes (the archive module's analysisPathFor). */
  resultPathFor: (archivePath: string) => string;
  /** The motion meters (MotionMeters); absent: no gate, no motion in results. */
  motion?: {
    timelineFor(camera: string, startMs: number, endMs: number): MotionSample[] | null;
    /** The largest changed fraction in the interval (the duplicate gate's motion figure). */
    peakChange?(camera: string, startMs: number, endMs: number): number | null;
  };
  clock?: Clock;
  /** Jobs worked at once (1–2: the proxy competes with the live pipeline for CPU). */
  concurrency?: number;
  /** Override `analysis.dailyTokens` / `analysis.dailyRequests` (tests). */
  dailyTokenBudget?: number | null;
  dailyRequestBudget?: number | null;
  /** Override `analysis.deferAfterMinutes` (tests), ms. */
  deferAfterMs?: number;
  stillThreshold?: number;
  retry?: Partial<RetryPolicy>;
  proxy?: Partial<ProxyOptions>;
  pollMs?: number;
  activeTimeoutMs?: number;
  random?: () => number;
  /** Longest wait in stop() for running jobs to notice the abort. */
  stopGraceMs?: number;
}

/** Figures for R/health and /api/status. */
export interface AnalysisStats {
  running: boolean;
  model: string | null;
  queued: number;
  active: number;
  sentToday: number;
  doneToday: number;
  failedToday: number;
  skippedToday: number;
  tokensToday: number;
  requestsToday: number;
  maxPerDay: number;
  tokenBudget: number | null;
  requestBudget: number | null;
  /** Why no new job starts now, if something holds the queue. */
  held: 'cap' | 'budget' | 'rate-limit' | 'offline' | null;
  deferredTotal: number;
  failures: number;
  lastError: string | null;
}

/** Finished jobs are kept this long for inspection, then pruned at start. */
const KEEP_FINISHED_MS = 30 * 24 * 3600_000;

/** The durable analysis queue and its workers. */
export class AnalysisQueue {
  private jobsStore: JobStore | null = null;
  private worker: Worker | null = null;
  private deferral: Deferral | null = null;
  private running = false;
  private readonly active = new Map<number, { controller: AbortController; done: Promise<void> }>();
  private readonly unsubscribe: Array<() => void> = [];
  private timer: NodeJS.Timeout | null = null;
  private gate: RetryGate;
  private lastError: string | null = null;
  private lastReason: DeferReason | null = null;
  private lastBudget = '';

  constructor(private readonly deps: AnalysisQueueDeps) {
    this.gate = new RetryGate(deps.retry, deps.random);
  }

  private get clock(): Clock {
    return this.deps.clock ?? systemClock;
  }

  private get jobs(): JobStore {
    if (!this.jobsStore) {
      this.jobsStore = new JobStore(this.deps.db);
      this.jobsStore.init();
    }
    return this.jobsStore;
  }

  private get workDir(): string {
    return path.join(this.deps.config().dataDir, 'analysis-tmp');
  }

  /** Whether the queue is working (enabled and a key present). */
  get isRunning(): boolean {
    return this.running;
  }

  /** Subscribes to finished archives and starts working the stored jobs; off without a key. */
  async start(): Promise<void> {
    const { log, model } = this.deps;
    const config = this.deps.config();
    if (!config.analysis.enabled) return;
    if (!model) {
      log.warn(
        'analysis.enabled is true but no Gemini API key was found (analysis.apiKeyFile or GEMINI_API_KEY): analysis is off; run `edge-agent doctor`',
      );
      return;
    }
    this.jobs.init();
    this.jobs.pruneFinished(this.clock.now() - KEEP_FINISHED_MS);
    // Proxies left by a kill -9: the job makes a new one if its upload did not finish.
    await mkdir(this.workDir, { recursive: true });
    for (const name of await readdir(this.workDir)) await rm(path.join(this.workDir, name), { force: true });
    this.worker = new Worker({
      jobs: this.jobs,
      model,
      archives: this.deps.archives,
      publish: this.deps.publish,
      resultPathFor: this.deps.resultPathFor,
      config: this.deps.config,
      log,
      clock: this.clock,
      workDir: this.workDir,
      ...(this.deps.proxy ? { proxy: this.deps.proxy } : {}),
      pollMs: this.deps.pollMs ?? 2000,
      activeTimeoutMs: this.deps.activeTimeoutMs ?? 10 * 60_000,
      onRequest: () => this.reportBudget(),
      ...(this.deps.index ? { index: (result: AnalysisResult) => this.deps.index!.add(result) } : {}),
    });
    this.deferral = new Deferral({
      jobs: this.jobs,
      bus: this.deps.bus,
      log,
      deviceId: config.device.id,
      afterMs: this.deps.deferAfterMs ?? config.analysis.deferAfterMinutes * 60_000,
    });
    this.running = true;
    this.unsubscribe.push(
      this.deps.bus.on('archive.finished', (e) => this.onArchive(e)),
      this.deps.bus.on('archive.recovered', (e) => this.onArchive(e)),
      this.deps.bus.on('disk.pruned', (e) => this.onPruned(e.file)),
    );
    const pending = this.jobs.pendingCount();
    const limits = this.limits();
    log.info(
      {
        model: model.model,
        pending,
        maxPerDay: limits.archives,
        dailyTokens: limits.tokens,
        dailyRequests: limits.requests,
      },
      'analysis queue started',
    );
    this.pump();
  }

  /** Stops taking jobs and interrupts the running ones; they resume (upload kept) at the next start. */
  async stop(): Promise<void> {
    this.running = false;
    for (const off of this.unsubscribe.splice(0)) off();
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
    const running = [...this.active.values()];
    for (const { controller } of running) controller.abort();
    // The SDK's chunked upload ignores the abort signal; don't hold the agent's stop for it: the
    // job is durable and resumes (reusing a finished upload) at the next start.
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.deps.stopGraceMs ?? 5000);
    });
    await Promise.race([Promise.all(running.map((r) => r.done)), grace]);
    clearTimeout(timer);
  }

  /** Queues an archive (the `analyze` command): it must exist; no-op if already pending. */
  async enqueue(camera: string, file: string): Promise<void> {
    if (!this.running)
      throw new AgentError('bad_request', 'analysis is not running (analysis.enabled false or no API key)');
    if ((await this.deps.archives.resolve(file)) === null)
      throw new AgentError('not_found', `archive ${file} does not exist`);
    if (this.jobs.isPending(file)) return;
    const entry = (await this.deps.archives.list({ camera, limit: 100_000 })).find((a) => a.file === file);
    const startMs = entry ? Date.parse(entry.start) : (parseArchiveFileName(path.basename(file)) ?? 0);
    const seconds = entry && entry.seconds > 0 ? entry.seconds : null;
    // Asked for by a person: no motion gate, but the hint if the meter still has that time.
    const motion = seconds ? this.motionOf(camera, startMs, seconds) : null;
    this.jobs.insert({
      camera,
      file,
      startMs,
      seconds,
      motion: motion ? JSON.stringify(motion) : null,
      score: motion?.max ?? null,
      requested: true,
      now: this.clock.now(),
    });
    this.deps.log.info({ camera, file }, 'archive queued for analysis (command)');
    this.pump();
  }

  /** Whether an archive still waits for analysis (retention deletes those last). */
  isPending(file: string): boolean {
    return this.jobs.isPending(file);
  }

  /** Queue depth and today's totals. */
  stats(): AnalysisStats {
    const today = this.jobs.day(utcDay(this.clock.now()));
    const limits = this.limits();
    return {
      running: this.running,
      model: this.deps.model?.model ?? null,
      queued: this.jobs.pendingCount(),
      active: this.active.size,
      sentToday: today.sent,
      doneToday: today.done,
      failedToday: today.failed,
      skippedToday: today.skipped,
      tokensToday: today.tokens,
      requestsToday: today.requests,
      maxPerDay: limits.archives,
      tokenBudget: limits.tokens,
      requestBudget: limits.requests,
      held: this.heldReason(),
      deferredTotal: this.jobs.deferredTotal(),
      failures: this.jobs.failedTotal(),
      lastError: this.lastError,
    };
  }

  private motionOf(camera: string, startMs: number, seconds: number) {
    const endMs = startMs + seconds * 1000;
    const summary = summariseMotion(
      this.deps.motion?.timelineFor(camera, startMs, endMs) ?? null,
      this.deps.stillThreshold ?? DEFAULT_STILL_THRESHOLD,
    );
    const changed = this.deps.motion?.peakChange?.(camera, startMs, endMs) ?? null;
    return summary && changed !== null ? { ...summary, changed: Math.round(changed * 10_000) / 10_000 } : summary;
  }

  private onArchive(event: AgentEvent<'archive.finished'> | AgentEvent<'archive.recovered'>): void {
    if (!this.running || this.jobs.hasAny(event.file)) return;
    const startMs = Date.parse(event.start);
    const motion = this.motionOf(event.camera, startMs, event.seconds);
    const now = this.clock.now();
    const base = {
      camera: event.camera,
      file: event.file,
      startMs,
      seconds: event.seconds,
      motion: motion ? JSON.stringify(motion) : null,
      score: motion?.max ?? null,
      now,
    };
    if (this.deps.config().analysis.skipWhenStill && motion && motion.max < motion.threshold) {
      const reason = `no motion (largest score ${motion.max} under ${motion.threshold})`;
      this.jobs.insert({ ...base, state: 'skipped' });
      this.jobs.count(utcDay(now), { skipped: 1 });
      this.deps.log.info({ file: event.file, max: motion.max }, 'still archive not sent for analysis');
      this.deps.bus.emit('analysis.skipped', { camera: event.camera, archive: event.file, reason });
      this.reportBudget();
      return;
    }
    this.jobs.insert(base);
    this.pump();
  }

  /** Retention deleted an archive: a job still waiting for it is skipped (one being worked finds it gone). */
  private onPruned(file: string): void {
    const job = this.running ? this.jobs.pendingFor(file) : undefined;
    if (!job || this.active.has(job.id) || job.result) return;
    void this.skip(job, new ArchiveGoneError(file)).catch((error: unknown) =>
      this.deps.log.error({ file, err: error }, 'analysis bookkeeping failed'),
    );
  }

  /** Marks a job skipped and says so: `analysis.skipped` with the reason (`retention`, `duplicate`) and its details. */
  private async skip(job: Job, why: SkipError): Promise<void> {
    await this.worker?.dropUpload(job);
    const now = this.clock.now();
    this.jobs.update(job.id, { state: 'skipped', lastError: why.message }, now);
    this.jobs.count(utcDay(now), { skipped: 1 });
    // Retention reaching an archive before its analysis means analysis lags: worth a warning.
    const level = why instanceof ArchiveGoneError ? 'warn' : 'info';
    this.deps.log[level]({ file: job.file, reason: why.reason, ...why.details }, `${why.message}; skipped`);
    this.deps.bus.emit('analysis.skipped', {
      camera: job.camera,
      archive: job.file,
      reason: why.reason,
      ...why.details,
    });
    this.reportBudget();
  }

  /** Today's limits: the config keys (the environment overrides them as any key), or the test overrides. */
  private limits(): BudgetLimits {
    const { deps } = this;
    const { analysis } = deps.config();
    return {
      tokens: dailyLimit(deps.dailyTokenBudget !== undefined ? deps.dailyTokenBudget : analysis.dailyTokens),
      requests: dailyLimit(deps.dailyRequestBudget !== undefined ? deps.dailyRequestBudget : analysis.dailyRequests),
      archives: analysis.maxPerDay,
    };
  }

  private heldReason(): AnalysisStats['held'] {
    const now = this.clock.now();
    return this.gate.held(now) ?? budgetHold(this.jobs.day(utcDay(now)), this.limits());
  }

  /** Publishes R/analysis/budget when a figure in it changed (the timestamp alone is no news). */
  private reportBudget(): void {
    if (!this.deps.publishBudget || !this.running) return;
    const now = this.clock.now();
    const message = budgetMessage(this.jobs.day(utcDay(now)), this.limits(), this.jobs.pendingCount(), now);
    const key = JSON.stringify({ ...message, ts: null });
    if (key === this.lastBudget) return;
    this.lastBudget = key;
    try {
      this.deps.publishBudget(message);
    } catch (error) {
      this.deps.log.warn({ err: error }, 'analysis budget not published');
    }
  }

  /** Sends `analysis.deferred` (once, stored with the job) for every job still without a result after deferAfterMinutes. */
  private checkDeferred(): void {
    const now = this.clock.now();
    this.deferral?.check(now, this.jobs.pending(), {
      hold: budgetHold(this.jobs.day(utcDay(now)), this.limits()),
      rateLimited: this.gate.held(now) === 'rate-limit',
      lastReason: this.lastReason,
      isActive: (id) => this.active.has(id),
    });
  }

  /** The next job allowed to run now, oldest first. */
  private nextJob(): Job | null {
    const now = this.clock.now();
    if (this.gate.held(now)) return null;
    const held = this.heldReason();
    for (const job of this.jobs.pending()) {
      if (this.active.has(job.id) || job.nextAt > now) continue;
      // Over budget nothing more is asked of the model; over the cap only jobs already counted go on.
      if (held === 'budget' && !job.result) continue;
      if (held === 'cap' && !job.countedDay && !job.result) continue;
      return job;
    }
    return null;
  }

  private pump(): void {
    if (!this.running) return;
    this.checkDeferred();
    this.reportBudget();
    const concurrency = Math.max(1, this.deps.concurrency ?? 1);
    while (this.active.size < concurrency) {
      const job = this.nextJob();
      if (!job) break;
      this.run(job);
    }
    this.scheduleWake();
  }

  /** Wakes the pump when the earliest waiting job is due, or at the next UTC midnight if held by the day. */
  private scheduleWake(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
    const now = this.clock.now();
    const pending = this.jobs.pending();
    const waiting = pending.filter((j) => !this.active.has(j.id));
    const deadlines = this.deferral?.deadlines(pending) ?? [];
    if (waiting.length === 0 && deadlines.length === 0) return;
    const held = this.heldReason();
    let at = waiting.length === 0 ? Infinity : Math.min(...waiting.map((j) => j.nextAt));
    if (held === 'rate-limit' || held === 'offline') at = Math.max(at, this.gate.until);
    if (held === 'cap' || held === 'budget') at = Math.max(at, nextUtcMidnight(now));
    at = Math.min(at, ...deadlines);
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = null;
        this.pump();
      },
      Math.min(Math.max(at - now, 50), 3_600_000),
    );
  }

  private run(job: Job): void {
    const controller = new AbortController();
    const done = this.worker!.analyse(job, controller.signal)
      .then(() => {
        this.lastError = null;
        this.gate.succeeded();
      })
      .catch((error: unknown) => this.failed(job.id, classify(error, 'analysis', controller.signal)))
      .catch((error: unknown) => this.deps.log.error({ file: job.file, err: error }, 'analysis bookkeeping failed'))
      .finally(() => {
        this.active.delete(job.id);
        this.pump();
      });
    this.active.set(job.id, { controller, done });
  }

  private async failed(id: number, error: AnalysisError): Promise<void> {
    if (error instanceof AbortedError) return;
    const job = this.jobs.get(id)!;
    if (error instanceof SkipError) return this.skip(job, error);
    const now = this.clock.now();
    this.lastError = error.message;
    const waitReason = failureReason(error);
    this.lastReason = waitReason;
    const decision = this.gate.failed(error, job.attempts, now);
    if (decision.retry) {
      const { attempts, delayMs } = decision;
      this.jobs.update(id, { attempts, nextAt: now + delayMs, lastError: error.message, waitReason }, now);
      this.deps.log.warn({ file: job.file, attempts, delayMs, err: error }, 'analysis try failed, will retry');
      return;
    }
    await this.worker!.dropUpload(job);
    this.jobs.update(id, { state: 'failed', attempts: decision.attempts, lastError: decision.reason }, now);
    this.jobs.count(utcDay(now), { failed: 1 });
    this.deps.log.error({ file: job.file, reason: decision.reason }, 'analysis failed');
    this.deps.bus.emit('analysis.failed', { camera: job.camera, archive: job.file, reason: decision.reason });
  }
}

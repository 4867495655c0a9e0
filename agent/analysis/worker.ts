/**
 * One job's steps: duplicate gate (scene signature stored) → proxy → upload (or reuse the stored
 * upload) → wait ACTIVE → generateContent → store the answer → delete the upload → write the
 * result beside the archive → publish, mark done and make its scene the camera's last, in one
 * transaction. Each step's outcome is stored before the next starts.
 */
import path from 'node:path';
import type { AgentConfig } from '../config/types.js';
import { archiveEventId } from '../contract/ids.js';
import type { AnalysisResult } from '../contract/messages.js';
import type { ArchiveCatalog } from '../contract/services.js';
import type { Clock } from '../util/clock.js';
import { writeFileAtomic } from '../util/files.js';
import type { Logger } from '../util/logger.js';
import { buildPrompt, parseAnswer, type MotionSummary } from './answer.js';
import { costsFor, PROXY_WIDTH } from './costs.js';
import { judgeDuplicate } from './duplicates.js';
import { AbortedError, AnalysisError, ArchiveGoneError, DuplicateClipError, MalformedAnswerError } from './errors.js';
import type { MediaOptions, RemoteFile, VideoModel } from './gemini.js';
import { utcDay, type Job, type JobStore } from './jobs.js';
import { makeProxy, type ProxyOptions } from './proxy.js';
import { sceneSignature } from './scene.js';

/** An upload this close to its expiry is not reused: it could vanish mid-request. */
export const REUSE_MARGIN_MS = 60 * 60_000;

/** What the worker needs (the queue passes its own deps through). */
export interface WorkerDeps {
  jobs: JobStore;
  model: VideoModel;
  archives: ArchiveCatalog;
  publish: (result: AnalysisResult) => void;
  resultPathFor: (archivePath: string) => string;
  config: () => AgentConfig;
  log: Logger;
  clock: Clock;
  /** Where proxies are made (removed after upload). */
  workDir: string;
  proxy?: Partial<ProxyOptions>;
  /** files.get polling while the API processes the video. */
  pollMs: number;
  /** Longest wait for ACTIVE before the try counts as failed (retryable). */
  activeTimeoutMs: number;
  /** Called after each answered generateContent (its tokens and the request are counted by then). */
  onRequest?: () => void;
  /** Indexes a result for search, inside the transaction that publishes it (SearchIndex.add). */
  index?: (result: AnalysisResult) => void;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new AbortedError());
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs jobs' steps; stateless besides its deps. */
export class Worker {
  constructor(private readonly deps: WorkerDeps) {}

  /** Takes one job as far as it goes: returns when done, throws AnalysisError otherwise. */
  async analyse(job: Job, signal: AbortSignal): Promise<void> {
    const absolute = await this.deps.archives.resolve(job.file);
    if (job.result) return this.finish(job, absolute);
    if (!absolute) throw new ArchiveGoneError(job.file);
    // Once counted or uploaded the clip was judged worth sending; a retry does not judge again.
    if (!job.uploadName && !job.countedDay) await this.skipIfDuplicate(job, absolute, signal);
    let remote = await this.reuseUpload(job, signal);
    remote ??= await this.uploadProxy(job, absolute, signal);
    remote = await this.waitActive(job, remote, signal);
    const current = this.deps.jobs.get(job.id)!;
    const motion = current.motion ? (JSON.parse(current.motion) as MotionSummary) : null;
    const prompt = buildPrompt(this.deps.config().analysis.prompt, motion);
    const { fps, resolution } = costsFor(this.deps.config(), job.camera);
    const { parsed, usage } = await this.ask(current, remote, prompt, { fps, resolution }, signal);
    const seconds = current.seconds ?? 0;
    const result: AnalysisResult = {
      camera: job.camera,
      archive: job.file,
      start: new Date(job.startMs).toISOString(),
      end: new Date(job.startMs + Math.round(seconds * 1000)).toISOString(),
      model: this.deps.model.model,
      summary: parsed.summary,
      events: parsed.events,
      ...(motion ? { motion } : {}),
      ...(usage ? { usage } : {}),
      eventId: this.eventId(job),
      ts: new Date(this.deps.clock.now()).toISOString(),
    };
    this.deps.jobs.update(job.id, { result: JSON.stringify(result) }, this.deps.clock.now());
    await this.finish(this.deps.jobs.get(job.id)!, absolute);
  }

  /** Deletes the job's upload if it has one (a failed delete is logged: the API drops it after 48 h). */
  async dropUpload(job: Job): Promise<void> {
    if (!job.uploadName) return;
    try {
      await this.deps.model.remove(job.uploadName);
    } catch (error) {
      this.deps.log.warn(
        { file: job.file, upload: job.uploadName, err: error },
        'uploaded proxy not deleted (the API expires it in 48 h)',
      );
    }
    this.deps.jobs.update(job.id, { uploadName: null, uploadUri: null, uploadExpires: null }, this.deps.clock.now());
  }

  /** generateContent; a malformed answer is asked again once. Tokens of every answer are counted. */
  private async ask(job: Job, remote: RemoteFile, prompt: string, media: MediaOptions, signal: AbortSignal) {
    for (let attempt = 1; ; attempt++) {
      const answer = await this.deps.model.generate(remote, prompt, media, signal);
      this.deps.jobs.count(utcDay(this.deps.clock.now()), { requests: 1, tokens: answer.usage?.totalTokenCount ?? 0 });
      this.deps.onRequest?.();
      try {
        return { parsed: parseAnswer(answer.text, job.startMs, job.seconds), usage: answer.usage };
      } catch (error) {
        if (!(error instanceof MalformedAnswerError) || attempt >= 2) throw error;
        this.deps.log.warn({ file: job.file, err: error }, 'malformed model answer, asking once more');
      }
    }
  }

  private async finish(job: Job, absolute: string | null): Promise<void> {
    await this.dropUpload(job);
    // A result stored by an agent from before event ids gets its id now.
    const result = { ...(JSON.parse(job.result!) as AnalysisResult) };
    result.eventId ??= this.eventId(job);
    // The archive may have been pruned meanwhile: the result still goes to the back end.
    if (absolute) await writeFileAtomic(this.deps.resultPathFor(absolute), `${JSON.stringify(result, null, 2)}\n`);
    const now = this.deps.clock.now();
    // Publish (an outbox row in the same database) and done together: never twice, never lost.
    this.deps.jobs.transaction(() => {
      this.deps.publish(result);
      this.deps.index?.(result);
      this.deps.jobs.update(job.id, { state: 'done', lastError: null }, now);
      this.deps.jobs.count(utcDay(now), { done: 1 });
      if (job.scene) this.deps.jobs.setLastScene(job.camera, job.scene, job.file, now);
    });
    this.deps.log.info({ file: job.file, events: result.events.length, usage: result.usage }, 'archive analysed');
  }

  /**
   * The duplicate gate (duplicates.ts): takes the clip's scene signature (stored with the job, so
   * it becomes the camera's reference once analysed) and throws DuplicateClipError for a still
   * clip that matches the last one analysed. A clip a person asked for is never skipped, but
   * becomes the reference all the same; a signature FFmpeg cannot take only means no skip.
   */
  private async skipIfDuplicate(job: Job, absolute: string, signal: AbortSignal): Promise<void> {
    const costs = costsFor(this.deps.config(), job.camera);
    if (!costs.skipDuplicates) return;
    let signature = job.scene;
    if (signature === null) {
      try {
        signature = await sceneSignature(absolute, job.seconds ?? 0, {
          signal,
          ...(this.deps.proxy?.ffmpegPath ? { ffmpegPath: this.deps.proxy.ffmpegPath } : {}),
        });
        this.deps.jobs.update(job.id, { scene: signature }, this.deps.clock.now());
      } catch (error) {
        if (signal.aborted) throw new AbortedError();
        this.deps.log.warn({ file: job.file, err: error }, 'no scene signature; the clip is analysed');
      }
    }
    if (job.requested) return;
    const motion = job.motion ? (JSON.parse(job.motion) as MotionSummary) : null;
    const verdict = judgeDuplicate({ costs, motion, signature, last: this.deps.jobs.lastScene(job.camera) });
    if (verdict.duplicate) throw new DuplicateClipError(job.file, verdict.distance, verdict.sameAs);
    this.deps.log.debug({ file: job.file, why: verdict.why }, 'not a duplicate');
  }

  /** The id of the archive's event (`archive.finished` / `archive.recovered`), which the result carries. */
  private eventId(job: Job): string {
    return archiveEventId(this.deps.config().device.id, job.file);
  }

  /** The stored upload if the API still has it and it is not about to expire; else null. */
  private async reuseUpload(job: Job, signal: AbortSignal): Promise<RemoteFile | null> {
    if (!job.uploadName || !job.uploadUri) return null;
    const now = this.deps.clock.now();
    if (job.uploadExpires !== null && job.uploadExpires - now < REUSE_MARGIN_MS) {
      this.deps.jobs.update(job.id, { uploadName: null, uploadUri: null, uploadExpires: null }, now);
      return null;
    }
    const remote = await this.deps.model.get(job.uploadName, signal);
    if (!remote) {
      this.deps.jobs.update(job.id, { uploadName: null, uploadUri: null, uploadExpires: null }, now);
      return null;
    }
    this.deps.log.info(
      { file: job.file, upload: remote.name, state: remote.state },
      'reusing the proxy uploaded before',
    );
    return remote;
  }

  private async uploadProxy(job: Job, absolute: string, signal: AbortSignal): Promise<RemoteFile> {
    const { jobs, clock, log } = this.deps;
    // The proxy carries exactly the frames the model samples, at the size its resolution can use.
    const { fps, resolution } = costsFor(this.deps.config(), job.camera);
    const options = { fps, width: PROXY_WIDTH[resolution], ...this.deps.proxy };
    const proxy = await makeProxy(absolute, this.deps.workDir, `job-${job.id}`, options, signal);
    try {
      if (job.seconds === null && proxy.durationSeconds !== null)
        jobs.update(job.id, { seconds: proxy.durationSeconds }, clock.now());
      if (!job.countedDay) {
        // Counted before the upload: a crash mid-upload has already spent bandwidth.
        const day = utcDay(clock.now());
        jobs.transaction(() => {
          jobs.update(job.id, { countedDay: day }, clock.now());
          jobs.count(day, { sent: 1 });
        });
      }
      log.info({ file: job.file, proxyBytes: proxy.bytes, cpuSeconds: proxy.cpuSeconds }, 'proxy made, uploading');
      const remote = await this.deps.model.upload(proxy.path, `${job.camera} ${path.basename(job.file)}`, signal);
      // Stored at once: a job killed from here on reuses this upload instead of sending it again.
      jobs.update(
        job.id,
        { uploadName: remote.name, uploadUri: remote.uri, uploadExpires: remote.expiresAtMs },
        clock.now(),
      );
      return remote;
    } finally {
      await proxy.remove();
    }
  }

  private async waitActive(job: Job, remote: RemoteFile, signal: AbortSignal): Promise<RemoteFile> {
    const deadline = this.deps.clock.now() + this.deps.activeTimeoutMs;
    let current: RemoteFile | null = remote;
    while (current.state !== 'ACTIVE') {
      if (current.state === 'FAILED') {
        throw new AnalysisError(`the API could not process the video${current.error ? `: ${current.error}` : ''}`, {
          retryable: false,
        });
      }
      if (this.deps.clock.now() > deadline) {
        throw new AnalysisError(`uploaded video not ACTIVE after ${Math.round(this.deps.activeTimeoutMs / 1000)} s`, {
          retryable: true,
        });
      }
      await sleep(this.deps.pollMs, signal);
      current = await this.deps.model.get(remote.name, signal);
      if (!current) {
        this.deps.jobs.update(
          job.id,
          { uploadName: null, uploadUri: null, uploadExpires: null },
          this.deps.clock.now(),
        );
        throw new AnalysisError('uploaded video disappeared while processing', { retryable: true });
      }
    }
    return current;
  }
}

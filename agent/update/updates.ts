/**
 * The agent's half of an update (README "Updates"). The agent runs unprivileged, so it only
 * checks a request, writes it into its own folder for the root updater (started by
 * edge-agent-update.path) and reports what the updater does: it reads the updater's state file
 * and publishes retained `R/release` whenever it changes. `R/release/desired` (retained, the fleet
 * form) is handled like the command; a document already handled (re-delivered at every connect) is
 * recognised by its digest and changes nothing.
 */
import { createHash, randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { AgentError } from '../contract/errors.js';
import type { ReleaseMessage, UpdateState } from '../contract/messages.js';
import { systemClock, type Clock } from '../util/clock.js';
import { exists } from '../util/files.js';
import type { Logger } from '../util/logger.js';
import { assertReleaseSigned, parseUpdateRequest, type UpdateRequest } from './release.js';
import {
  currentVersion,
  FINAL_STATES,
  machineArch,
  previousVersion,
  readRootState,
  updatePaths,
  writeJsonAtomic,
  type RootUpdateState,
} from './state.js';

/** What is remembered of `R/release/desired` across restarts. */
export interface DesiredReleaseMemory {
  digest: string;
}

/** What the update module needs; agent.ts builds it. */
export interface ReleaseUpdatesDeps {
  version: string;
  /** `/opt/edge-agent`, or null when the agent runs from a checkout (no updates then). */
  app: string | null;
  dataDir: () => string;
  /** `/etc/edge-agent/release-keys`. */
  keyDir: string;
  /** What the new release must match in its health gate: the cameras producing frames now, the broker reachable now. */
  baseline: () => { cameras: string[]; mqtt: boolean };
  publish: (message: ReleaseMessage) => void;
  memory: { load(): DesiredReleaseMemory | null; save(value: DesiredReleaseMemory): void };
  /** A command key is configured: `R/release/desired` must then carry a valid command signature. */
  signingRequired: () => boolean;
  desiredSigned: (doc: Record<string, unknown>) => boolean;
  log: Logger;
  clock?: Clock;
  pollMs?: number;
  /** A request no updater took within this long is withdrawn and reported failed. */
  requestTimeoutMs?: number;
}

type Report = { state: UpdateState; version: string | null; reason: string | null; ts: string };

const DESIRED_FIELDS = ['manifest', 'sig', 'releaseSig', 'url', 'ts'];

/** Takes update requests and reports the updater's progress on `R/release`. */
export class ReleaseUpdates {
  private timer: NodeJS.Timeout | null = null;
  private seen = '';
  private root: RootUpdateState | null = null;
  private previous: string | null = null;
  private refusal: Report | null = null;
  private pending: { attempt: string; since: number } | null = null;
  private waiting: Buffer | null = null;
  private desiredChain: Promise<void> = Promise.resolve();

  constructor(private readonly deps: ReleaseUpdatesDeps) {}

  private get clock(): Clock {
    return this.deps.clock ?? systemClock;
  }

  /** Reads the updater's state, publishes `R/release` and keeps watching. */
  async start(): Promise<void> {
    await this.poll(true);
    this.timer = setInterval(
      () =>
        void this.poll(false).catch((error: unknown) => this.deps.log.warn({ err: error }, 'update state not read')),
      this.deps.pollMs ?? 1000,
    );
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Resolves once every desired document received so far is handled (tests). */
  idle(): Promise<void> {
    return this.desiredChain;
  }

  /** `R/release` as it stands. */
  report(): ReleaseMessage {
    const root = this.root;
    const fromRoot: Report | null = root
      ? { state: root.state, version: root.version, reason: root.reason, ts: root.ts ?? '' }
      : null;
    const latest = this.refusal && (!fromRoot || this.refusal.ts >= fromRoot.ts) ? this.refusal : fromRoot;
    const update = latest ? { state: latest.state, version: latest.version, reason: latest.reason } : null;
    return {
      running: this.deps.version,
      previous: this.previous,
      update,
      ts: new Date(this.clock.now()).toISOString(),
    };
  }

  /** Checks a request and hands it to the root updater; throws AgentError when refused. */
  async request(request: UpdateRequest): Promise<{ accepted: true; version: string; attempt: string }> {
    const { app } = this.deps;
    const { version } = request.manifest;
    if (!app)
      throw new AgentError(
        'unsupported',
        'this agent does not run from an installed release (/opt/edge-agent/releases/<version>): install it with deploy/install.sh to update it',
      );
    if (version === this.deps.version) throw new AgentError('bad_request', `version ${version} is already running`);
    if (request.manifest.arch !== machineArch())
      throw new AgentError(
        'bad_request',
        `the release is for ${request.manifest.arch}, this board is ${machineArch()}`,
      );
    await assertReleaseSigned(request, this.deps.keyDir);
    const busy = await this.busy();
    if (busy) throw new AgentError('busy', busy);
    const attempt = randomUUID();
    const paths = updatePaths(app, this.deps.dataDir());
    await writeJsonAtomic(paths.request, {
      attempt,
      ...request,
      gate: this.deps.baseline(),
      requestedAt: new Date(this.clock.now()).toISOString(),
    });
    this.pending = { attempt, since: this.clock.now() };
    this.refusal = null;
    this.deps.log.info({ version, attempt }, 'update requested');
    return { accepted: true, version, attempt };
  }

  /** Takes one `R/release/desired` payload; returns at once (handled in order, in the background). */
  handleDesired(payload: Buffer): void {
    this.desiredChain = this.desiredChain
      .then(() => this.desired(payload))
      .catch((error: unknown) => this.deps.log.error({ err: error }, 'desired release failed'));
  }

  private async desired(payload: Buffer): Promise<void> {
    // An empty retained payload is the back end clearing the topic.
    if (payload.length === 0) return;
    const digest = createHash('sha256').update(payload).digest('hex');
    if (this.deps.memory.load()?.digest === digest) {
      this.deps.log.debug('desired release already handled');
      return;
    }
    let request: UpdateRequest;
    try {
      request = this.parseDesired(payload);
    } catch (error) {
      return this.refuse(digest, null, (error as Error).message);
    }
    if (request.manifest.version === this.deps.version) {
      this.deps.memory.save({ digest });
      this.deps.log.info({ version: request.manifest.version }, 'desired release already running');
      return;
    }
    if (await this.busy()) {
      // Handled once the update in progress ends; a newer document replaces this one.
      this.waiting = payload;
      return;
    }
    try {
      await this.request(request);
      this.deps.memory.save({ digest });
    } catch (error) {
      this.refuse(digest, request.manifest.version, (error as Error).message);
    }
  }

  private parseDesired(payload: Buffer): UpdateRequest {
    let doc: unknown;
    try {
      doc = JSON.parse(payload.toString('utf8'));
    } catch {
      throw new AgentError('bad_request', 'R/release/desired is not json');
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
      throw new AgentError('bad_request', 'R/release/desired must be an object {manifest, sig, url}');
    const body = doc as Record<string, unknown>;
    const extra = Object.keys(body).filter((k) => !DESIRED_FIELDS.includes(k));
    if (extra.length > 0)
      throw new AgentError(
        'bad_request',
        `R/release/desired has unknown field(s) ${extra
          .slice(0, 4)
          .map((k) => JSON.stringify(k).slice(0, 40))
          .join(', ')}`,
      );
    const { ts: _ts, ...fields } = body;
    if (!this.deps.signingRequired()) return parseUpdateRequest(fields);
    // With a command key, `sig` is the command signature over the document and the release signature is `releaseSig`.
    if (!this.deps.desiredSigned(body))
      throw new AgentError(
        'unauthorized',
        'with a command key configured, R/release/desired needs its command signature in sig (the release signature goes in releaseSig)',
      );
    const { sig: _sig, ...release } = fields;
    return parseUpdateRequest(release);
  }

  private refuse(digest: string, version: string | null, reason: string): void {
    this.deps.memory.save({ digest });
    this.deps.log.warn({ version, reason }, 'desired release refused');
    this.refusal = { state: 'failed', version, reason, ts: new Date(this.clock.now()).toISOString() };
    this.deps.publish(this.report());
  }

  /** Why a new update cannot start now, or null. */
  private async busy(): Promise<string | null> {
    const { app } = this.deps;
    if (!app) return null;
    if (await exists(updatePaths(app, this.deps.dataDir()).request))
      return 'an update request is waiting for the updater';
    const root = await readRootState(app);
    return root && !FINAL_STATES.has(root.state) ? `an update to ${root.version} is in progress (${root.state})` : null;
  }

  private async poll(force: boolean): Promise<void> {
    const { app } = this.deps;
    if (app) {
      const root = await readRootState(app);
      // While the updater switches, `previous` already names this (still running) release: keep the last one.
      // The two links are read one after the other and may change in between, so a `previous` that names the
      // running release is that switch too, even if `current` was read before it.
      const current = await currentVersion(app);
      const linked = await previousVersion(app);
      const previous = current === this.deps.version && linked !== this.deps.version ? linked : this.previous;
      const seen = JSON.stringify([root, previous]);
      if (seen !== this.seen || force) {
        this.seen = seen;
        this.root = root;
        this.previous = previous;
        this.deps.publish(this.report());
      }
      await this.expirePending(root);
    } else if (force) {
      this.deps.publish(this.report());
    }
    if (this.waiting && !(await this.busy())) {
      const payload = this.waiting;
      this.waiting = null;
      this.handleDesired(payload);
    }
  }

  /** A request nobody took (no updater installed, its .path unit off) must not block updates for ever. */
  private async expirePending(root: RootUpdateState | null): Promise<void> {
    const pending = this.pending;
    if (!pending || !this.deps.app) return;
    if (root?.attempt === pending.attempt) {
      this.pending = null;
      return;
    }
    if (this.clock.now() - pending.since < (this.deps.requestTimeoutMs ?? 60_000)) return;
    this.pending = null;
    await rm(updatePaths(this.deps.app, this.deps.dataDir()).request, { force: true });
    const reason = 'no updater took the request (is edge-agent-update.path enabled? see README "Updates")';
    this.deps.log.error({ attempt: pending.attempt }, reason);
    this.refusal = { state: 'failed', version: null, reason, ts: new Date(this.clock.now()).toISOString() };
    this.deps.publish(this.report());
  }
}

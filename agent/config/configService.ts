/**
 * The one owner of a config change's sequence: validate → apply → health gate → commit, or revert.
 * The steps are numbered in README "Config over MQTT"; set-config and R/config/desired both run here.
 */
import { AgentError, ConfigError } from '../contract/errors.js';
import type { CameraStats, ChangeOutcome, ChangeRequest } from '../contract/services.js';
import type { EventBus } from '../util/bus.js';
import type { Logger } from '../util/logger.js';
import { planChange, RESTART_REQUIRED_KEYS, type ChangePlan } from './diff.js';
import { runGate, type GateCheck } from './gate.js';
import { applySets, mergeSets, prepareConfigFile, writeConfigFile, type PreparedConfigFile } from './persist.js';
import { DEFAULT_CONFIG_PATH } from './load.js';
import { keysNamed, protectedKeys, remoteLimitProblems } from './remote.js';
import type { AgentConfig, CameraConfig } from './types.js';

/** What the health gate can look at after a change was applied; each says why not, or null. */
export interface GateProbes {
  /** The MQTT link is connected and a QoS 1 publish was acknowledged. */
  link(): Promise<string | null>;
  /** The HTTP server is listening. */
  http(): string | null;
  cameras(): CameraStats[];
}

/** What the config service is given. */
export interface ConfigServiceDeps {
  /** The file the agent was started with; null means built-in defaults (changes go to the default path). */
  file: string | null;
  current: () => AgentConfig;
  /** Restarts the modules a change touches; may throw (a port taken, a broker URL refused). */
  apply: (next: AgentConfig, plan: ChangePlan) => Promise<void>;
  /** Checks what validation alone cannot (the secrets the new config points at are readable); throws. */
  precheck?: (next: AgentConfig) => void;
  /** Whether a command key is configured, so sensitive keys need a signed request. */
  signingRequired: () => boolean;
  probes: GateProbes;
  /** Called when even the revert failed: the process should restart onto the committed file. */
  unrecoverable: (reason: string) => void;
  bus: EventBus;
  log: Logger;
  /** Poll period of the gate (tests shorten it). */
  gatePollMs?: number;
}

// A camera counts as producing frames when its last one is younger than this.
const FRESH_FRAME_SECONDS = 5;

/**
 * Runs config changes one at a time through the apply → check → commit → revert protocol. It is
 * the commands' ConfigControl; not declared here, since config/ must not import commands/ (which
 * imports config/): agent.ts handing it to the commands checks the shape.
 */
export class ConfigService {
  private queue: Promise<unknown>;
  private opened!: () => void;
  private closing = false;

  constructor(private readonly deps: ConfigServiceDeps) {
    // Changes wait until the agent has started every module: a retained desired document arrives
    // as soon as the link connects, while HTTP may still be starting.
    this.queue = new Promise<void>((resolve) => (this.opened = resolve));
  }

  /** Lets changes run (the agent has started). */
  open(): void {
    this.opened();
  }

  /** Ends a change in progress early (its gate fails, it is reverted) and refuses new ones. */
  async close(): Promise<void> {
    this.closing = true;
    this.opened();
    await this.queue;
  }

  current(): AgentConfig {
    return this.deps.current();
  }

  /** The old set-config form: resolves with the changed keys, throws AgentError when not applied. */
  async set(sets: Record<string, unknown>, options: { signed?: boolean } = {}): Promise<{ changed: string[] }> {
    const outcome = await this.change({ sets, signed: options.signed ?? false, origin: 'set-config' });
    if (outcome.status === 'applied') return { changed: outcome.changed };
    if (outcome.error instanceof ConfigError) throw outcome.error;
    throw new AgentError(outcome.errorCode ?? 'internal', outcome.message);
  }

  /** Runs one change to its end; never rejects. */
  change(request: ChangeRequest): Promise<ChangeOutcome> {
    const run = this.queue.then(() => this.run(request));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(request: ChangeRequest): Promise<ChangeOutcome> {
    const log = this.deps.log;
    if (this.closing) {
      return {
        status: 'rejected',
        code: 400,
        errorCode: 'internal',
        message: 'the agent is stopping; nothing changed',
        changed: [],
      };
    }
    // Step 1: validate the whole change; nothing has changed yet.
    let checked: { next: AgentConfig; plan: ChangePlan; prepared: PreparedConfigFile | null };
    try {
      checked = await this.validate(request);
    } catch (error) {
      const agentError =
        error instanceof AgentError ? error : new AgentError('internal', String(error), { cause: error });
      log.warn({ origin: request.origin, err: agentError }, 'config change rejected');
      return {
        status: 'rejected',
        code: 400,
        errorCode: agentError.code,
        message: agentError.message,
        changed: [],
        error: agentError,
      };
    }
    const { next, plan, prepared } = checked;
    if (plan.keys.length === 0 || !prepared)
      return { status: 'applied', code: 200, message: 'nothing to change', changed: [] };
    // Step 2: remember what is running, so the gate can compare and a revert can restore it.
    const before = this.deps.current();
    const camerasBefore = new Map(this.deps.probes.cameras().map((s) => [s.camera, s]));
    const deadlineMs = before.mqtt.configGateSeconds * 1000;
    log.info(
      { origin: request.origin, changed: plan.keys, modules: [...plan.modules], cameras: plan.cameras },
      'config change applying',
    );
    // Step 3: apply, restarting only what the change touches. Step 4: the health gate.
    let failure: string | null;
    try {
      await this.deps.apply(next, plan);
      failure = await runGate(
        this.gateChecks(next, plan, camerasBefore),
        deadlineMs,
        this.deps.gatePollMs,
        () => this.closing,
      );
    } catch (error) {
      failure = `applying failed: ${(error as Error).message}`;
    }
    if (failure === null) {
      // Step 5: commit. Only now does the file change, so a power cut before here boots the old config.
      try {
        await writeConfigFile(prepared);
      } catch (error) {
        failure = `the config file could not be written: ${(error as Error).message}`;
      }
    }
    if (failure === null) {
      log.info({ changed: plan.keys }, 'config changed');
      this.deps.bus.emit('config.changed', { keys: plan.keys });
      return { status: 'applied', code: 200, message: `applied ${plan.keys.join(', ')}`, changed: plan.keys };
    }
    // Step 6: revert to the running config of step 2; the file still holds it.
    await this.revert(before, next, failure);
    // Cut short by a stop: not a verdict on the change, so a desired document is tried again at the next start.
    const interrupted = this.closing ? { interrupted: true } : {};
    return {
      status: 'reverted',
      code: 500,
      errorCode: 'config_reverted',
      message: `reverted: ${failure}`,
      changed: [],
      ...interrupted,
    };
  }

  private async validate(
    request: ChangeRequest,
  ): Promise<{ next: AgentConfig; plan: ChangePlan; prepared: PreparedConfigFile | null }> {
    const before = this.deps.current();
    // Who may change a key is decided before its value is validated: a refusal says "not from here".
    // (device.id, dataDir and archive.dir answer restart_required first, once they really change.)
    const named = Object.keys(request.sets)
      .flatMap(keysNamed)
      .filter((k) => !(RESTART_REQUIRED_KEYS as readonly string[]).includes(k));
    // Judged on the values as sent (new file: sources, a switch turned off), so a refusal never
    // hides behind a validation error; cameras that are not camera-shaped are validation's.
    const sent = mergeSets(before, request.sets).next as unknown as AgentConfig;
    const asSent = {
      ...sent,
      cameras: Array.isArray(sent.cameras) ? sent.cameras.filter(isCameraShaped) : before.cameras,
    };
    this.checkAccess(before, asSent, { keys: named, modules: new Set(), cameras: [] }, request.signed, false);
    const next = applySets(before, request.sets);
    const plan = planChange(before, next);
    if (plan.keys.length === 0) return { next, plan, prepared: null };
    const frozen = plan.keys.filter((k) => (RESTART_REQUIRED_KEYS as readonly string[]).includes(k));
    if (frozen.length > 0) {
      throw new AgentError(
        'restart_required',
        `${frozen.join(', ')} cannot be changed while the agent runs; change the config file and restart the agent`,
      );
    }
    this.checkAccess(before, next, plan, request.signed);
    this.deps.precheck?.(next);
    const prepared = await prepareConfigFile(this.deps.file ?? DEFAULT_CONFIG_PATH, request.sets);
    return { next, plan, prepared };
  }

  /** The remote allow-list (config/remote.ts): refuses what this request may not change; throws. */
  private checkAccess(before: AgentConfig, next: AgentConfig, plan: ChangePlan, signed: boolean, limits = true): void {
    const { signed: needSignature, local } = protectedKeys(before, next, plan.keys);
    if (local.length > 0) {
      throw new AgentError(
        'local_only',
        `${local.join(', ')} can only be changed in the config file or with --set, never over mqtt; nothing changed`,
      );
    }
    if (needSignature.length > 0 && !signed) {
      if (this.deps.signingRequired()) {
        throw new AgentError(
          'unauthorized',
          `${needSignature.join(', ')} may only be changed by a signed request; nothing changed`,
        );
      }
      // Without a command key nobody can prove who sent a request, so these keys stay local
      // (unless the config file opted back into the old behaviour).
      if (!before.mqtt.unsignedSensitiveChanges) {
        throw new AgentError(
          'local_only',
          `${needSignature.join(', ')} can only be changed in the config file or with --set while no command key is configured (mqtt.commandKeyFile; with one, a signed request may change them); nothing changed`,
        );
      }
    }
    const problems = limits ? remoteLimitProblems(next, plan.keys) : [];
    if (problems.length > 0) throw new ConfigError(problems);
  }

  private gateChecks(next: AgentConfig, plan: ChangePlan, before: Map<string, CameraStats>): GateCheck[] {
    const { probes } = this.deps;
    const checks: GateCheck[] = [];
    if (plan.modules.has('mqtt')) checks.push(() => probes.link());
    if (plan.modules.has('http')) checks.push(() => probes.http());
    if (plan.modules.has('pipeline')) {
      const ids =
        plan.cameras === 'all'
          ? next.cameras.map((c) => c.id)
          : plan.cameras.filter((id) => next.cameras.some((c) => c.id === id));
      checks.push(() => {
        const now = new Map(probes.cameras().map((s) => [s.camera, s]));
        const bad = ids.filter((id) => !cameraPasses(before.get(id), now.get(id)));
        return bad.length === 0
          ? null
          : bad.map((id) => `camera ${id} produces no frames (${describe(now.get(id))})`).join('; ');
      });
    }
    return checks;
  }

  private async revert(before: AgentConfig, failed: AgentConfig, reason: string): Promise<void> {
    const plan = planChange(failed, before);
    this.deps.log.error({ changed: plan.keys, reason }, 'config change failed its check; reverting');
    try {
      await this.deps.apply(before, plan);
    } catch (error) {
      const why = `the revert failed too: ${(error as Error).message}`;
      this.deps.log.fatal({ err: error }, 'config revert failed; restarting onto the committed config file');
      this.deps.unrecoverable(why);
      return;
    }
    this.deps.bus.emit('config.reverted', { keys: plan.keys, reason });
  }
}

/** Producing fresh frames, or down as it already was before the change. */
/** The health gate's rule for one camera the change touched. */
export function cameraPasses(before: CameraStats | undefined, after: CameraStats | undefined): boolean {
  if (!after) return false;
  if (after.state === 'running' && (after.lastFrameAgeSeconds ?? Infinity) < FRESH_FRAME_SECONDS) return true;
  // A camera already failing before the change is not the change's fault. A first 'starting' is
  // not failing (right after an earlier change or revert every camera starts, and must then
  // run), but one starting again after failing is: a dead IP camera is 'starting' between tries.
  if (before === undefined) return false;
  return (
    before.state === 'restarting' ||
    before.state === 'failed' ||
    (before.state === 'starting' && before.restarts > 0 && before.lastError !== null)
  );
}

function describe(stats: CameraStats | undefined): string {
  if (!stats) return 'not running';
  return stats.lastError ? `${stats.state}: ${stats.lastError.slice(0, 200)}` : stats.state;
}

/** An entry of a cameras list as sent that names an id and a source (validation judges the rest). */
function isCameraShaped(entry: unknown): entry is CameraConfig {
  const camera = entry as Partial<CameraConfig> | null;
  return (
    typeof camera === 'object' && camera !== null && typeof camera.id === 'string' && typeof camera.source === 'string'
  );
}

/**
 * The running agent's modules as one ordered table: start-up starts them in order, shut-down
 * stops them in reverse, and a config change restarts the ones its plan names (config/diff.ts),
 * as mediamtx's reload does. No module is started or stopped anywhere else.
 */
import type { ChangePlan, ModuleName } from './config/diff.js';
import type { EventBus } from './util/bus.js';
import type { Logger } from './util/logger.js';

/** One part of the running agent, as start-up, shut-down and a config change see it. */
export interface AgentModule {
  /** For the log. */
  readonly name: string;
  /** The config slice whose change restarts it; a `device` change restarts every module. */
  readonly slice: ModuleName;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
  /**
   * Takes a change of its slice without a restart (the cameras a change names, a new health
   * interval); returns false when only a restart will do.
   */
  applyInPlace?(plan: ChangePlan): Promise<boolean> | boolean;
  /**
   * At start-up, started before the modules before it in the table (see ModuleTable.start): it
   * needs none of them, and what it emits waits on the held bus for their consumers.
   */
  readonly startAhead?: boolean;
}

/**
 * Longest the other modules wait for those started ahead: a slow start (an encoder probe without
 * a cached verdict, the recovery of a long recording) must not keep the link and HTTP down.
 */
export const HEAD_START_MS = 1000;

export class ModuleTable {
  constructor(
    private readonly modules: readonly AgentModule[],
    private readonly deps: { bus: EventBus; log: Logger; headStartMs?: number },
  ) {}

  /**
   * Starts every module: those marked startAhead first, then the others in table order once they
   * have started or HEAD_START_MS has passed (they would only compete for the one JavaScript
   * thread). The bus holds events until the last one is attached, so nothing emitted during
   * start-up (recovered archives, retention's first pass) misses a consumer (README "Start-up",
   * steps 3-8). Throws the first failure once every start has ended.
   */
  async start(): Promise<void> {
    await this.held(async () => {
      const ahead = this.modules.filter((m) => m.startAhead).map(async (m) => m.start());
      try {
        await this.headStart(ahead);
        for (const module of this.modules) if (!module.startAhead) await module.start();
      } finally {
        await Promise.allSettled(ahead);
      }
      await Promise.all(ahead);
    });
  }

  private async headStart(ahead: Array<Promise<void>>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise((resolve) => (timer = setTimeout(resolve, this.deps.headStartMs ?? HEAD_START_MS)));
    await Promise.race([Promise.allSettled(ahead), limit]);
    clearTimeout(timer);
  }

  /** Stops every module in reverse order; one that fails to stop does not keep the rest running. */
  async stop(): Promise<void> {
    for (const module of [...this.modules].reverse()) {
      try {
        await module.stop();
      } catch (error) {
        this.deps.log.warn({ err: error, module: module.name }, 'module stop failed');
      }
    }
  }

  /**
   * Applies a change plan: each module on a changed slice takes it in place or is restarted
   * (stopped in reverse order, started in table order); a `device` change restarts them all.
   * Throws if a module fails to start, so the config service reverts the change.
   */
  async apply(plan: ChangePlan): Promise<void> {
    await this.held(async () => {
      const everything = plan.modules.has('device');
      const restart: AgentModule[] = [];
      for (const module of this.modules) {
        if (!everything && !plan.modules.has(module.slice)) continue;
        if (!everything && module.applyInPlace && (await module.applyInPlace(plan))) continue;
        restart.push(module);
      }
      if (restart.length > 0)
        this.deps.log.info({ modules: restart.map((m) => m.name) }, 'restarting modules for a config change');
      for (const module of [...restart].reverse()) await module.stop();
      for (const module of restart) await module.start();
    });
  }

  // Events of the modules (re)started here wait for their consumers to be back.
  private async held(work: () => Promise<void>): Promise<void> {
    this.deps.bus.hold();
    try {
      await work();
    } finally {
      this.deps.bus.release();
    }
  }
}

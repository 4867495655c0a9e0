import { affectedModules, changedKeys, type ModuleName } from './config/diff.js';
import { applySets, persistConfig } from './config/persist.js';
import { DEFAULT_CONFIG_PATH } from './config/load.js';
import type { AgentConfig } from './config/types.js';
import type { ConfigControl } from './commands/types.js';
import type { EventBus } from './util/bus.js';
import type { Logger } from './util/logger.js';

/** What the config service is given. */
export interface ConfigServiceDeps {
  /** The file the agent was started with; null means built-in defaults (changes go to the default path). */
  file: string | null;
  current: () => AgentConfig;
  /** Restarts the modules a change touches. */
  apply: (next: AgentConfig, modules: Set<ModuleName>) => Promise<void>;
  bus: EventBus;
  log: Logger;
}

/**
 * set-config: validates the whole new config first (nothing changes if it is invalid), persists
 * it atomically, then restarts only the modules whose slice changed. One change at a time.
 */
export class ConfigService implements ConfigControl {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: ConfigServiceDeps) {}

  current(): AgentConfig {
    return this.deps.current();
  }

  set(sets: Record<string, unknown>): Promise<{ changed: string[] }> {
    const run = this.queue.then(() => this.apply(sets));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async apply(sets: Record<string, unknown>): Promise<{ changed: string[] }> {
    const before = this.deps.current();
    const next = applySets(before, sets);
    const changed = changedKeys(before, next);
    if (changed.length === 0) return { changed };
    await persistConfig(this.deps.file ?? DEFAULT_CONFIG_PATH, sets);
    const modules = affectedModules(changed);
    this.deps.log.info({ changed, modules: [...modules] }, 'config changed');
    await this.deps.apply(next, modules);
    this.deps.bus.emit('config.changed', { keys: changed });
    return { changed };
  }
}

import { Agent } from './agent.js';
import type { CliOptions } from './cli/options.js';
import { loadConfig, resolveConfigPath } from './config/load.js';
import type { AgentConfig } from './config/types.js';
import { ConfigError } from './contract/errors.js';
import { systemClock } from './util/clock.js';
import { createRootLogger } from './util/logger.js';
import { SystemdNotifier, WatchdogPetter } from './systemd/notify.js';
import { VERSION } from './version.js';

/** Longest a clean stop may take (FFmpeg finishing its files, the archive remux, offline sent). */
const STOP_TIMEOUT_MS = 30_000;

/** `edge-agent run`: loads the config, runs the agent until SIGTERM/SIGINT, stops cleanly. */
export async function runAgent(options: CliOptions): Promise<number> {
  let loaded: { config: AgentConfig; file: string | null };
  try {
    loaded = loadConfig({ file: resolveConfigPath(options.config), sets: options.set });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`edge-agent: invalid config\n${error.problems.join('\n')}\n`);
    return 2;
  }
  const rootLog = createRootLogger();
  const log = rootLog.child({ component: 'agent' });
  log.info({ version: VERSION, config: loaded.file ?? 'built-in defaults' }, 'starting');
  let agent: Agent;
  try {
    agent = new Agent(loaded.config, loaded.file, rootLog);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`edge-agent: invalid config\n${error.problems.join('\n')}\n`);
    return 2;
  }
  // Handlers stay installed: a second signal while the archive is being finished (timeout(1)
  // signals its whole group, an impatient `systemctl stop`) must not kill the agent mid-stop.
  let stopping = false;
  let exitCode = 0;
  const stopped = new Promise<string>((resolve) => {
    // A config change whose revert failed leaves modules half-built; exit non-zero so systemd
    // starts the agent again on the committed file, which the failed change never touched.
    agent.onUnrecoverable((reason) => {
      if (stopping) return;
      stopping = true;
      exitCode = 1;
      log.fatal({ reason }, 'restarting onto the committed config');
      resolve('config-revert-failed');
    });
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) return log.warn({ signal }, 'already stopping; finishing the archives first');
      stopping = true;
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  try {
    await agent.start();
  } catch (error) {
    log.fatal({ err: error }, 'could not start');
    await agent.stop().catch(() => undefined);
    return 1;
  }
  const notifier = new SystemdNotifier({ log });
  await notifier.ready(`recording ${loaded.config.cameras.length} camera(s)`);
  const watchdog = new WatchdogPetter({ notifier, clock: systemClock, isHealthy: () => agent.healthy(), log });
  watchdog.start();
  const signal = await stopped;
  log.info({ signal }, 'stopping');
  watchdog.stop();
  await notifier.stopping();
  const clean = await Promise.race([
    agent.stop().then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), STOP_TIMEOUT_MS).unref()),
  ]);
  notifier.close();
  if (!clean) {
    log.error({ seconds: STOP_TIMEOUT_MS / 1000 }, 'stop did not finish in time; exiting anyway');
    process.exit(1);
  }
  log.info('stopped');
  if (exitCode !== 0) return exitCode;
  // Everything is closed; a forgotten timer or socket must not keep a stopped agent alive.
  setTimeout(() => {
    log.warn('handles still open after stop; exiting');
    process.exit(0);
  }, 3000).unref();
  return 0;
}

/** `ping` `{}` → `{pong: true, version, uptime}` (uptime in seconds). */
import { systemClock } from '../util/clock.js';
import { allowOnly } from './schema.js';
import type { CommandDeps, CommandSpec } from './types.js';

/** The ping command. */
export function pingCommand(deps: CommandDeps): CommandSpec<void> {
  return {
    parse: (body) => allowOnly(body, []),
    run: async () => {
      const now = (deps.clock ?? systemClock).now();
      const uptime = Math.max(0, Math.round((now - Date.parse(deps.startedAt)) / 1000));
      return { pong: true, version: deps.version, uptime };
    },
  };
}

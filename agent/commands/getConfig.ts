/** `get-config` `{}` → the effective config, secrets redacted. */
import { allowOnly } from './schema.js';
import type { CommandDeps, CommandSpec } from './types.js';

/** The get-config command. */
export function getConfigCommand(deps: CommandDeps): CommandSpec<void> {
  return {
    parse: (body) => allowOnly(body, []),
    run: async () => deps.redact(deps.config.current()),
  };
}

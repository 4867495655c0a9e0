/**
 * `update` `{"manifest": {...}, "sig": "<hex>", "url": "<http(s) url>"}` → `{accepted, version, attempt}`:
 * the release is checked (its Ed25519 signature against the board's release keys, always, with or
 * without a command key) and handed to the root updater; progress and the outcome are on retained
 * `R/release`. With a command key configured, `sig` is the command's signature and the release
 * signature goes in `releaseSig`.
 */
import { allowOnly } from './schema.js';
import type { CommandDeps, CommandSpec, UpdateArgs } from './types.js';
import { AgentError } from '../contract/errors.js';

/** The update command. */
export function updateCommand(deps: CommandDeps): CommandSpec<Record<string, unknown>> {
  return {
    keepsSig: true,
    parse: (body) => {
      allowOnly(body, ['manifest', 'sig', 'releaseSig', 'url']);
      return { ...body };
    },
    run: async (body) => {
      if (!deps.updates) throw new AgentError('unsupported', 'updates are not available in this agent');
      return deps.updates.request(body as UpdateArgs);
    },
  };
}

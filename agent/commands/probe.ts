/** `probe` `{}` → what `edge-agent probe --json` prints (cameras and working encoders). */
import { allowOnly } from './schema.js';
import type { CommandDeps, CommandSpec } from './types.js';

/** The probe command. */
export function probeCommand(deps: CommandDeps): CommandSpec<void> {
  return {
    parse: (body) => allowOnly(body, []),
    run: async () => deps.probe(),
  };
}

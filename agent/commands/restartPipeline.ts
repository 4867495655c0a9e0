/** `restart-pipeline` `{"camera"?}` → `{restarted: [ids]}`. */
import { parseOptionalCamera } from './cameras.js';
import type { CommandDeps, CommandSpec } from './types.js';

/** The restart-pipeline command. */
export function restartPipelineCommand(deps: CommandDeps): CommandSpec<{ camera?: string }> {
  return {
    parse: (body) => parseOptionalCamera(deps.config, body),
    run: async ({ camera }) => ({ restarted: await deps.pipeline.restart(camera) }),
  };
}

/** `restart-pipeline` `{"camera"?}` → `{restarted: [ids]}`. */
import { requireCamera } from './cameras.js';
import { allowOnly, NAME, optString } from './schema.js';
import type { CommandDeps, CommandSpec } from './types.js';

/** The restart-pipeline command. */
export function restartPipelineCommand(deps: CommandDeps): CommandSpec<{ camera?: string }> {
  return {
    parse: (body) => {
      allowOnly(body, ['camera']);
      const camera = optString(body, 'camera', NAME);
      requireCamera(deps.config, camera);
      return { camera };
    },
    run: async ({ camera }) => ({ restarted: await deps.pipeline.restart(camera) }),
  };
}

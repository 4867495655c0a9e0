/** `snapshot` `{"camera"?}` → `{camera, jpegBase64, width, height, ts}`, taken without disturbing the recording. */
import { parseOptionalCamera } from './cameras.js';
import type { CommandDeps, CommandSpec } from './types.js';

/** The snapshot command. */
export function snapshotCommand(deps: CommandDeps): CommandSpec<{ camera?: string }> {
  return {
    parse: (body) => parseOptionalCamera(deps.config, body),
    run: async ({ camera }) => {
      const shot = await deps.pipeline.snapshot(camera);
      return {
        camera: shot.camera,
        jpegBase64: shot.jpeg.toString('base64'),
        width: shot.width,
        height: shot.height,
        ts: shot.ts,
      };
    },
  };
}

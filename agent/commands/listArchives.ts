/** `list-archives` `{"camera"?, "limit"?}` → `[{camera, file, start, seconds, bytes, analysed}]`, newest first. */
import { requireCamera } from './cameras.js';
import { allowOnly, NAME, optInt, optString } from './schema.js';
import type { CommandDeps, CommandSpec } from './types.js';

// A reply must fit comfortably in one MQTT message on a small board.
const MAX_LIMIT = 1000;
const DEFAULT_LIMIT = 100;

/** The list-archives command. */
export function listArchivesCommand(deps: CommandDeps): CommandSpec<{ camera?: string; limit: number }> {
  return {
    parse: (body) => {
      allowOnly(body, ['camera', 'limit']);
      const camera = optString(body, 'camera', NAME);
      const limit = optInt(body, 'limit', 1, MAX_LIMIT) ?? DEFAULT_LIMIT;
      requireCamera(deps.config, camera);
      return { camera, limit };
    },
    run: async ({ camera, limit }) => {
      const entries = await deps.archives.list({ camera, limit });
      return entries.map((e) => ({
        camera: e.camera,
        file: e.file,
        start: e.start,
        seconds: e.seconds,
        bytes: e.bytes,
        analysed: e.analysed,
      }));
    },
  };
}

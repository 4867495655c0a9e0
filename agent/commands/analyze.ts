/** `analyze` `{"camera", "file"}` → `{queued: true}`: queues one finished archive for analysis. */
import { AgentError } from '../contract/errors.js';
import { requireCamera } from './cameras.js';
import { allowOnly, NAME, reqString } from './schema.js';
import type { CommandDeps, CommandSpec } from './types.js';

// `<camera>/<YYYY-MM-DD>/archive_<stamp>.mp4`, relative to archive.dir; no `..` can match.
const FILE = /^[A-Za-z0-9_.-]{1,64}\/\d{4}-\d{2}-\d{2}\/archive_\d{8}T\d{6}Z\.mp4$/;

/** The analyze command. */
export function analyzeCommand(deps: CommandDeps): CommandSpec<{ camera: string; file: string }> {
  return {
    parse: (body) => {
      allowOnly(body, ['camera', 'file']);
      const camera = reqString(body, 'camera', NAME);
      const file = reqString(body, 'file', FILE);
      if (!file.startsWith(`${camera}/`))
        throw new AgentError('bad_request', `file ${file} is not an archive of camera ${camera}`);
      requireCamera(deps.config, camera);
      return { camera, file };
    },
    run: async ({ camera, file }) => {
      if (!deps.analysis) throw new AgentError('bad_request', 'analysis is disabled (analysis.enabled is false)');
      if ((await deps.archives.resolve(file)) === null)
        throw new AgentError('not_found', `archive ${file} does not exist`);
      await deps.analysis.enqueue(camera, file);
      return { queued: true };
    },
  };
}

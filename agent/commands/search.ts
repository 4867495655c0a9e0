/**
 * `search` `{"q", "camera"?, "from"?, "to"?, "limit"?}` → `[{camera, archive, start, offsetSeconds,
 * summary, label?, description?}]`: the analysis results' full-text index, newest first.
 */
import { AgentError } from '../contract/errors.js';
import { parseSearchQuery, type SearchQuery } from '../contract/search.js';
import type { CommandDeps, CommandSpec } from './types.js';

/** The search command: the same arguments and checks as `GET /api/search`. */
export function searchCommand(deps: CommandDeps): CommandSpec<SearchQuery> {
  return {
    parse: (body) => parseSearchQuery(body),
    run: async (query) => {
      if (!deps.search) throw new AgentError('bad_request', 'search is not available');
      return deps.search.search(query);
    },
  };
}

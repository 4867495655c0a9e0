/** `GET /api/search?q=&camera=&from=&to=&limit=`: the analysis results' full-text index, newest first. */
import { AgentError } from '../contract/errors.js';
import { parseSearchQuery, SEARCH_FIELDS, type SearchService } from '../contract/search.js';
import { errorReply, type JsonReply } from './api.js';

/** Answers a search: 200 with the hits, 400 `bad_request` naming the bad argument. */
export function apiSearch(search: SearchService | undefined, query: URLSearchParams): JsonReply {
  if (!search) return errorReply(503, 'unavailable', 'search is not available');
  const input: Record<string, unknown> = {};
  for (const [key, value] of query) {
    if (key in input) return errorReply(400, 'bad_request', `${key.slice(0, 40)} may be given once`);
    // limit is the one number: digits become it, anything else is checked (and refused) as given.
    input[key] = key === 'limit' && /^\d{1,4}$/.test(value) ? Number(value) : value;
  }
  if (input.q === undefined)
    return errorReply(400, 'bad_request', `q is required (fields: ${SEARCH_FIELDS.join(', ')})`);
  try {
    return { status: 200, body: search.search(parseSearchQuery(input)) };
  } catch (error) {
    if (error instanceof AgentError && error.code === 'bad_request')
      return errorReply(400, 'bad_request', error.message);
    throw error;
  }
}

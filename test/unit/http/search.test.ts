import t from 'tap';
import type { SearchQuery } from '../../../agent/contract/search.js';
import { apiSearch } from '../../../agent/http/search.js';

const hit = {
  camera: 'cam1',
  archive: 'cam1/2026-03-02/archive_20260302T100000Z.mp4',
  start: '2026-03-02T10:00:12.000Z',
  offsetSeconds: 12,
  summary: 's',
  label: 'person',
};

t.test('GET /api/search: the query checked as the command checks it, hits as JSON', async (t) => {
  const asked: SearchQuery[] = [];
  const search = { search: (query: SearchQuery) => (asked.push(query), [hit]) };
  const ok = apiSearch(
    search,
    new URLSearchParams('q=person&camera=cam1&from=2026-03-02&to=2026-03-03T00:00:00Z&limit=5'),
  );
  t.same(ok, { status: 200, body: [hit] });
  t.same(asked, [
    {
      q: 'person',
      camera: 'cam1',
      fromMs: Date.parse('2026-03-02'),
      toMs: Date.parse('2026-03-03T00:00:00Z'),
      limit: 5,
    },
  ]);
  t.same(
    apiSearch(search, new URLSearchParams('q=person&camera=&from=')).status,
    200,
    'empty optional fields are absent',
  );
  for (const [query, pattern] of [
    ['', /^q is required/],
    ['q=', /^q must be a text/],
    ['q=%22*', /^q must be a text/],
    ['q=a&limit=0', /^limit must be an integer from 1 to 100/],
    ['q=a&limit=ten', /^limit must be an integer from 1 to 100, got "ten"/],
    ['q=a&limit=1.5', /^limit must be an integer/],
    ['q=a&from=last%20week', /^from must be an ISO-8601 time/],
    ['q=a&camera=../etc', /^camera must be a camera id/],
    ['q=a&q=b', /^q may be given once/],
    ['q=a&order=asc', /^unknown field "order"/],
  ] as const) {
    const reply = apiSearch(search, new URLSearchParams(query));
    t.equal(reply.status, 400, query);
    t.match(reply.body, { error: { code: 'bad_request', message: pattern } }, query);
  }
  t.equal(asked.length, 2, 'refused queries never reach the index');
  t.match(apiSearch(undefined, new URLSearchParams('q=a')), { status: 503 });
});

t.test('a search that fails for another reason than the query is not turned into a 400', async (t) => {
  const search = {
    search: (): never => {
      throw new Error('index unreadable');
    },
  };
  t.throws(() => apiSearch(search, new URLSearchParams('q=person')), /index unreadable/);
});

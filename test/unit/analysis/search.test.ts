import t from 'tap';
import { JobStore } from '../../../agent/analysis/jobs.js';
import { matchExpression, SearchIndex } from '../../../agent/analysis/search.js';
import type { AnalysisResult } from '../../../agent/contract/messages.js';
import { parseSearchQuery } from '../../../agent/contract/search.js';
import { openStore } from '../../../agent/store/store.js';

function result(
  camera: string,
  start: string,
  summary: string,
  events: Array<[offset: number, label: string, description: string]>,
): AnalysisResult {
  const startMs = Date.parse(start);
  const file = `${camera}/${start.slice(0, 10)}/archive_${start.replace(/[-:]/g, '').replace('.000', '')}.mp4`;
  return {
    camera,
    archive: file,
    start,
    end: new Date(startMs + 600_000).toISOString(),
    model: 'm',
    summary,
    ts: start,
    events: events.map(([offset, label, description]) => ({
      start: new Date(startMs + offset * 1000).toISOString(),
      end: new Date(startMs + offset * 1000 + 5000).toISOString(),
      label,
      description,
      severity: 'info',
    })),
  };
}

const gate = result('gate', '2026-03-02T10:00:00.000Z', 'A delivery van stops at the gate.', [
  [125, 'vehicle', 'A white van parks by the gate.'],
  [190, 'person', 'The driver carries a parcel to the door.'],
]);
const yard = result('yard', '2026-03-02T11:00:00.000Z', 'Nothing happens in the yard.', []);
const later = result('gate', '2026-03-02T12:00:00.000Z', 'A cat walks past.', [
  [30, 'animal', 'A cat walks along the fence.'],
]);
const q = (fields: Record<string, unknown>) => parseSearchQuery(fields);

t.test('the index finds events by word prefix, stems, camera and time', async (t) => {
  const db = openStore(t.testdir());
  t.teardown(() => db.close());
  t.comment(`engine: ${db.engine}`);
  const index = new SearchIndex(db);
  index.init();
  index.init(); // idempotent
  for (const r of [gate, yard, later]) index.add(r);
  t.same(
    index.search(q({ q: 'parcel' })),
    [
      {
        camera: 'gate',
        archive: gate.archive,
        start: '2026-03-02T10:03:10.000Z',
        offsetSeconds: 190,
        summary: gate.summary,
        label: 'person',
        description: 'The driver carries a parcel to the door.',
      },
    ],
    'an event: where it starts and its offset in the archive',
  );
  t.same(
    index.search(q({ q: 'yard' })).map((h) => [h.archive, h.offsetSeconds, h.label]),
    [[yard.archive, 0, undefined]],
    'a summary hit plays from the start',
  );
  t.same(
    index.search(q({ q: 'van' })).map((h) => h.label),
    ['vehicle'],
    'an archive matched by an event shows the event, not also its summary',
  );
  t.same(
    index.search(q({ q: 'walking' })).map((h) => h.label),
    ['animal'],
    'stemmed: walking finds walks',
  );
  t.same(
    index.search(q({ q: 'deliv' })).map((h) => h.archive),
    [gate.archive],
    'word prefixes',
  );
  t.same(
    index.search(q({ q: 'gate' })).map((h) => h.start),
    ['2026-03-02T12:00:30.000Z', '2026-03-02T10:03:10.000Z', '2026-03-02T10:02:05.000Z'],
    'the camera is searchable; newest first',
  );
  t.same(
    index.search(q({ q: 'a', camera: 'gate' })).map((h) => h.camera),
    ['gate', 'gate', 'gate'],
    'one camera',
  );
  t.same(index.search(q({ q: 'nothing', camera: 'gate' })), []);
  t.same(
    index
      .search(q({ q: 'gate', from: '2026-03-02T10:03:00Z', to: '2026-03-02T12:00:00Z' }))
      .map((h) => h.offsetSeconds),
    [190],
    'from inclusive, to exclusive, on the event time',
  );
  t.equal(index.search(q({ q: 'gate', limit: 1 })).length, 1);
  t.same(
    index.search(q({ q: 'van" * ( -' })).map((h) => h.label),
    ['vehicle'],
    'FTS syntax in the input is just text',
  );

  index.add({ ...gate, summary: 'Replaced.', events: [] });
  t.same(index.search(q({ q: 'parcel' })), [], 'a result added again replaces its rows');
  index.remove(later.archive);
  t.same(index.search(q({ q: 'cat' })), [], 'removed with its archive');
  t.equal(index.search(q({ q: 'replaced' })).length, 1);
});

t.test('results the queue stored before the index existed are indexed at init', async (t) => {
  const db = openStore(t.testdir());
  t.teardown(() => db.close());
  const jobs = new JobStore(db);
  jobs.init();
  const job = jobs.insert({
    camera: 'gate',
    file: gate.archive,
    startMs: Date.parse(gate.start),
    seconds: 600,
    motion: null,
    now: 1,
  });
  jobs.update(job.id, { state: 'done', result: JSON.stringify(gate) }, 2);
  const index = new SearchIndex(db);
  index.init();
  t.equal(index.search(q({ q: 'parcel' })).length, 1);
  index.init();
  t.equal(index.search(q({ q: 'parcel' })).length, 1, 'once');
});

t.test('search arguments are checked strictly, each problem named', async (t) => {
  t.same(parseSearchQuery({ q: 'van' }), { q: 'van', limit: 20 });
  t.same(parseSearchQuery({ q: 'van', camera: 'gate', from: '2026-03-02', to: '2026-03-03T00:00:00Z', limit: 5 }), {
    q: 'van',
    camera: 'gate',
    fromMs: Date.parse('2026-03-02'),
    toMs: Date.parse('2026-03-03T00:00:00Z'),
    limit: 5,
  });
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['no q', {}, /^q must be a text/],
    ['q of punctuation only', { q: '"*()' }, /^q must be a text/],
    ['q too long', { q: 'a'.repeat(201) }, /^q must be a text of 1 to 200/],
    ['q not a string', { q: 5 }, /^q must be/],
    ['bad camera', { q: 'x', camera: '../etc' }, /^camera must be a camera id/],
    ['bad from', { q: 'x', from: 'yesterday' }, /^from must be an ISO-8601 time/],
    ['impossible date', { q: 'x', to: '2026-13-45' }, /^to must be an ISO-8601 time/],
    ['to before from', { q: 'x', from: '2026-03-02', to: '2026-03-01' }, /^to must be after from/],
    ['limit 0', { q: 'x', limit: 0 }, /^limit must be an integer from 1 to 100/],
    ['limit as text', { q: 'x', limit: '5' }, /^limit must be an integer/],
    ['unknown field', { q: 'x', sort: 'asc' }, /^unknown field "sort" \(allowed: q, camera, from, to, limit\)/],
  ];
  for (const [name, input, message] of cases)
    t.throws(() => parseSearchQuery(input), { code: 'bad_request', message }, name);
  t.equal(matchExpression('white van!'), '"white"* "van"*');
});

import t from 'tap';
import {
  buildPrompt,
  DEFAULT_PROMPT,
  motionHint,
  parseAnswer,
  parseOffset,
  RESPONSE_SCHEMA,
  summariseMotion,
} from '../../../agent/analysis/answer.js';
import { MalformedAnswerError } from '../../../agent/analysis/errors.js';

const START = Date.parse('2026-03-02T10:00:00Z');

t.test('parseOffset', async (t) => {
  const cases: Array<[string, string, number | null]> = [
    ['MM:SS', '01:05', 65],
    ['M:SS', '1:05', 65],
    ['HH:MM:SS', '01:00:05', 3605],
    ['fractional seconds', '00:02.5', 2.5],
    ['bare seconds', '42', 42],
    ['padded', ' 00:07 ', 7],
    ['words', 'about a minute', null],
    ['ISO time', '2026-03-02T10:00:00Z', null],
  ];
  for (const [name, text, want] of cases) t.equal(parseOffset(text), want, name);
});

t.test('parseAnswer turns offsets into ISO times clamped to the archive', async (t) => {
  const text = JSON.stringify({
    summary: 'ok',
    events: [
      { start: '00:02', end: '00:04', label: 'person', description: 'd', severity: 'medium' },
      { start: '09:00', end: '12:00', label: 'vehicle', description: 'd', severity: 'catastrophic' },
    ],
  });
  const parsed = parseAnswer(text, START, 600);
  t.equal(parsed.summary, 'ok');
  t.same(parsed.events[0], {
    start: '2026-03-02T10:00:02.000Z',
    end: '2026-03-02T10:00:04.000Z',
    label: 'person',
    description: 'd',
    severity: 'medium',
  });
  t.match(
    parsed.events[1],
    { start: '2026-03-02T10:09:00.000Z', end: '2026-03-02T10:10:00.000Z', severity: 'info' },
    'end clamped, unknown severity → info',
  );
  t.same(parseAnswer('{"summary":"nothing","events":[]}', START, null), { summary: 'nothing', events: [] });
});

t.test('parseAnswer refuses what is off-schema', async (t) => {
  const bad: Array<[string, string | undefined]> = [
    ['cut off', '{"summary": "x'],
    ['no text', undefined],
    ['no events', '{"summary":"x"}'],
    ['summary not a string', '{"summary":1,"events":[]}'],
    ['event field missing', '{"summary":"x","events":[{"start":"00:01","end":"00:02","label":"a","severity":"info"}]}'],
    [
      'bad time',
      '{"summary":"x","events":[{"start":"soon","end":"00:02","label":"a","description":"d","severity":"info"}]}',
    ],
  ];
  for (const [name, text] of bad) t.throws(() => parseAnswer(text, START, 10), MalformedAnswerError, name);
});

t.test('summariseMotion and the hint', async (t) => {
  t.equal(summariseMotion(null, 0.01), null, 'no meter');
  t.equal(
    summariseMotion(
      [
        { t: 0, score: 0.5 },
        { t: 1, score: null },
        { t: 2, score: null },
      ],
      0.01,
    ),
    null,
    'under half measured: no basis',
  );
  const m = summariseMotion(
    [
      { t: 0, score: 0 },
      { t: 1, score: 0.05 },
      { t: 2, score: 0.12345 },
      { t: 3, score: null },
      { t: 4, score: 0.002 },
      { t: 5, score: 0.3 },
    ],
    0.01,
  )!;
  t.same(m, { max: 0.3, activeSeconds: 3, threshold: 0.01, perSecond: [0, 0.05, 0.123, null, 0.002, 0.3] });
  t.equal(
    motionHint(m),
    'A frame-difference motion meter saw movement at: 00:01-00:03 (peak 0.12), 00:05-00:06 (peak 0.30). Use it as a hint only.',
  );
  t.match(motionHint({ ...m, perSecond: [0, 0] }), /saw no movement/);
  t.equal(buildPrompt(null, null), DEFAULT_PROMPT);
  t.equal(buildPrompt('Count the trucks.', m), `Count the trucks.\n\n${motionHint(m)}`);
});

t.test('the response schema carries the contract fields', async (t) => {
  t.same(RESPONSE_SCHEMA.required, ['summary', 'events']);
  t.same(Object.keys(RESPONSE_SCHEMA.properties.events.items.properties), [
    'start',
    'end',
    'label',
    'description',
    'severity',
  ]);
});

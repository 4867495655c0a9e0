/** Roll-out stages, the abort rule and how a board's R/release answers a publish (agent/fleet). */
import t from 'tap';
import { parseStages, planStages, shouldAbort } from '../../../agent/fleet/plan.js';
import { judge } from '../../../agent/fleet/rollout.js';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `b${i}`);

const plans: Array<[string, string, number, number[]]> = [
  ['canary, then shares of the fleet', '1,10%,50%,100%', 60, [1, 5, 24, 30]],
  ['shares round up: 10 % of 7 is one board', '10%,100%', 7, [1, 6]],
  ['counts', '2,5,100%', 10, [2, 3, 5]],
  ['a stage adding nobody is left out', '1,1%,100%', 50, [1, 49]],
  ['a target below an earlier one adds nobody', '5,2,100%', 8, [5, 3]],
  ['a last stage under 100 % leaves the rest out', '1,50%', 10, [1, 4]],
  ['more boards asked for than there are', '100', 3, [3]],
];
for (const [name, spec, n, sizes] of plans) {
  t.test(`stages: ${name} (${spec} of ${n})`, async (t) => {
    const stages = planStages(ids(n), parseStages(spec));
    t.same(
      stages.map((s) => s.length),
      sizes,
    );
    t.same(
      stages.flat(),
      ids(n).slice(
        0,
        sizes.reduce((a, b) => a + b, 0),
      ),
      'in the given order, each board once',
    );
  });
}

t.test('bad stage lists are refused naming the part', async (t) => {
  for (const [spec, message] of [
    ['', /at least one stage/],
    ['0', /neither a count/],
    ['150%', /between 0 and 100/],
    ['ten', /neither a count/],
  ] as const) {
    t.throws(() => parseStages(spec), { message }, JSON.stringify(spec));
  }
});

t.test('the abort rule: at least min finished, and percent or more of them failed', async (t) => {
  const rule = { percent: 20, min: 5 };
  t.notOk(shouldAbort(4, 4, rule), 'too few finished to judge');
  t.ok(shouldAbort(5, 1, rule), '1 of 5 is 20 %');
  t.notOk(shouldAbort(6, 1, rule), '1 of 6 is under 20 %');
  t.notOk(shouldAbort(0, 0, { percent: 1, min: 0 }), 'nothing finished, nothing to abort');
});

t.test('judge: which R/release answers a publish', async (t) => {
  const at = Date.parse('2026-01-01T00:10:00Z');
  const ts = (iso: string) => ({ ts: iso });
  t.equal(judge(null, '2.0.0', at), null, 'no report yet');
  t.same(
    judge(
      { running: '2.0.0', update: { state: 'done', version: '2.0.0' }, ...ts('2026-01-01T00:11:00Z') },
      '2.0.0',
      at,
    ),
    { state: 'done', reason: null },
  );
  t.same(
    judge({ running: '2.0.0', update: null, ...ts('2026-01-01T00:00:00Z') }, '2.0.0', at),
    { state: 'done', reason: null },
    'already running it before the roll-out',
  );
  t.equal(
    judge(
      { running: '2.0.0', update: { state: 'verifying-health', version: '2.0.0' }, ...ts('2026-01-01T00:11:00Z') },
      '2.0.0',
      at,
    ),
    null,
    'running it but still in its gate',
  );
  t.same(
    judge(
      {
        running: '1.0.0',
        update: { state: 'rolled-back', version: '2.0.0', reason: 'gate' },
        ...ts('2026-01-01T00:11:00Z'),
      },
      '2.0.0',
      at,
    ),
    { state: 'rolled-back', reason: 'gate' },
  );
  t.equal(
    judge(
      {
        running: '1.0.0',
        update: { state: 'rolled-back', version: '2.0.0', reason: 'old' },
        ...ts('2026-01-01T00:05:00Z'),
      },
      '2.0.0',
      at,
    ),
    null,
    'a roll-back from before this publish (beyond the clock-skew allowance) is not the answer',
  );
  t.same(
    judge(
      {
        running: '1.0.0',
        update: { state: 'failed', version: null, reason: 'not json' },
        ...ts('2026-01-01T00:10:01Z'),
      },
      '2.0.0',
      at,
    ),
    { state: 'failed', reason: 'not json' },
    'a refused document',
  );
  t.equal(
    judge(
      { running: '1.0.0', update: { state: 'downloading', version: '2.0.0' }, ...ts('2026-01-01T00:10:01Z') },
      '2.0.0',
      at,
    ),
    null,
    'in progress',
  );
});

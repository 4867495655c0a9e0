import t from 'tap';
import { Backoff, type BackoffOptions } from '../../../agent/util/backoff.js';

function delays(options: BackoffOptions, count: number): number[] {
  const backoff = new Backoff(options);
  return Array.from({ length: count }, () => backoff.next());
}

t.test('delays', async (t) => {
  const cases: Array<[string, BackoffOptions, number, number[]]> = [
    [
      'doubling from the initial delay, no jitter',
      { initialMs: 500, maxMs: 60_000, jitter: 0 },
      5,
      [500, 1000, 2000, 4000, 8000],
    ],
    [
      'capped at maxMs and staying there',
      { initialMs: 1000, maxMs: 5000, jitter: 0 },
      6,
      [1000, 2000, 4000, 5000, 5000, 5000],
    ],
    ['a factor of 3', { initialMs: 100, maxMs: 10_000, factor: 3, jitter: 0 }, 4, [100, 300, 900, 2700]],
    ['initial above the cap: the cap from the start', { initialMs: 9000, maxMs: 2000, jitter: 0 }, 2, [2000, 2000]],
    [
      'full jitter with random() = 0: the whole delay',
      { initialMs: 1000, maxMs: 60_000, jitter: 1, random: () => 0 },
      3,
      [1000, 2000, 4000],
    ],
    [
      'full jitter with random() = 0.5: half of it',
      { initialMs: 1000, maxMs: 60_000, jitter: 1, random: () => 0.5 },
      3,
      [500, 1000, 2000],
    ],
    [
      'default jitter 0.5 with random() = 1: at most half taken off',
      { initialMs: 1000, maxMs: 60_000, random: () => 1 },
      3,
      [500, 1000, 2000],
    ],
    [
      'jitter applies after the cap',
      { initialMs: 1000, maxMs: 3000, jitter: 0.5, random: () => 0.5 },
      4,
      [750, 1500, 2250, 2250],
    ],
    ['rounded to whole milliseconds', { initialMs: 333, maxMs: 60_000, jitter: 0.5, random: () => 0.3 }, 2, [283, 566]],
  ];
  for (const [name, options, count, want] of cases) t.test(name, async (t) => t.same(delays(options, count), want));
});

t.test('jitter spreads delays between (1 - jitter) and the whole delay', async (t) => {
  let seed = 42;
  // A small LCG: repeatable "random" numbers in [0, 1).
  const random = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const backoff = new Backoff({ initialMs: 1000, maxMs: 1000, jitter: 0.5, random });
  const seen = Array.from({ length: 200 }, () => backoff.next());
  t.ok(
    seen.every((d) => d >= 500 && d <= 1000),
    'within [500, 1000]',
  );
  t.ok(new Set(seen).size > 50, 'and actually spread');
});

t.test('failures and reset', async (t) => {
  const backoff = new Backoff({ initialMs: 100, maxMs: 10_000, jitter: 0 });
  t.equal(backoff.failures, 0);
  t.same([backoff.next(), backoff.next(), backoff.next()], [100, 200, 400]);
  t.equal(backoff.failures, 3);
  backoff.reset();
  t.equal(backoff.failures, 0);
  t.equal(backoff.next(), 100, 'after a healthy run the delay starts over');
});

t.test('many failures never overflow past the cap', async (t) => {
  const backoff = new Backoff({ initialMs: 1000, maxMs: 30_000, jitter: 0 });
  for (let i = 0; i < 2000; i += 1) backoff.next();
  t.equal(backoff.next(), 30_000);
});

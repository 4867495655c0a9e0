import t from 'tap';
import { ReconnectPolicy } from '../../../agent/link/reconnect.js';

t.test('delays grow exponentially up to the cap, jittered by the injected random', async (t) => {
  const randoms = [0, 1, 0.5, 0, 1, 0, 0, 0];
  const policy = new ReconnectPolicy({ initialMs: 1000, maxMs: 8000, random: () => randoms.shift() ?? 0 });
  const delays = Array.from({ length: 8 }, (_, i) => policy.closed(i));
  // base 1000, 2000, 4000, 8000, 8000...; delay = base × (1 − 0.5 × random)
  t.same(delays, [1000, 1000, 3000, 8000, 4000, 8000, 8000, 8000]);
  t.equal(policy.failures, 8);
});

t.test('two boards with different randoms do not retry in step', async (t) => {
  const a = new ReconnectPolicy({ initialMs: 1000, random: () => 0.1 });
  const b = new ReconnectPolicy({ initialMs: 1000, random: () => 0.9 });
  t.not(a.closed(0), b.closed(0));
});

t.test('a connection that lasted past stableMs resets the backoff; a short one does not', async (t) => {
  const policy = new ReconnectPolicy({ initialMs: 100, stableMs: 1000, random: () => 0 });
  t.equal(policy.closed(0), 100);
  t.equal(policy.closed(0), 200);
  policy.connected(10);
  t.equal(policy.closed(500), 400, 'dropped after 490 ms: keeps growing');
  policy.connected(1000);
  t.equal(policy.closed(5000), 100, 'stable for 4 s: starts over');
});

t.test('defaults: 1 s doubling to a 60 s cap, reset after 30 s connected', async (t) => {
  const policy = new ReconnectPolicy({ random: () => 0 });
  t.same(
    Array.from({ length: 8 }, (_, i) => policy.closed(i)),
    [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000],
  );
  policy.connected(100_000);
  t.equal(policy.closed(129_999), 60_000, 'connected for less than 30 s: still backing off');
  policy.connected(200_000);
  t.equal(policy.closed(230_000), 1000, 'connected for 30 s: starts over');
  const jittered = new ReconnectPolicy();
  const first = jittered.closed(0);
  t.ok(first >= 500 && first <= 1000, `Math.random jitter by default: ${first}`);
});

import t from 'tap';
import { FailureLimiter, readCookie, Sessions } from '../../../agent/http/session.js';

t.test('Sessions: issued cookies are valid until expiry or logout, and only for their token', async (t) => {
  const clock = { now: 1_000_000_000 };
  const sessions = new Sessions('token-a', () => clock.now);
  const a = sessions.issue();
  const b = sessions.issue();
  t.not(a, b, 'two logins in one second get different sessions');
  t.ok(sessions.valid(a));
  t.not(sessions.csrfFor(a), sessions.csrfFor(b));
  t.ok(sessions.csrfMatches(a, sessions.csrfFor(a)));
  t.notOk(sessions.csrfMatches(a, sessions.csrfFor(b)));
  t.notOk(sessions.csrfMatches(a, undefined));
  t.notOk(new Sessions('token-b', () => clock.now).valid(a), 'another token');
  for (const bad of [undefined, '', 'v1', a + 'x', a.replace(/^v1\.\d+/, 'v1.9999999999'), a.replace(/^v1/, 'v2')])
    t.notOk(sessions.valid(bad), String(bad));
  sessions.revoke(a);
  t.notOk(sessions.valid(a), 'logged out');
  t.ok(sessions.valid(b), 'the other session lives on');
  clock.now += 12 * 3600 * 1000;
  t.notOk(sessions.valid(b), 'expired');
});

t.test('readCookie', async (t) => {
  t.equal(readCookie('a=1; edge_agent_session=v1.x; b=2', 'edge_agent_session'), 'v1.x');
  t.equal(readCookie(undefined, 'a'), undefined);
  t.equal(readCookie('xa=1', 'a'), undefined);
});

t.test('FailureLimiter: max failures per window per address, and bounded memory', async (t) => {
  const clock = { now: 0 };
  const limiter = new FailureLimiter(3, 60_000, () => clock.now, 2);
  for (let i = 0; i < 3; i++) {
    t.equal(limiter.retryAfterSeconds('a'), 0);
    limiter.fail('a');
    clock.now += 1000;
  }
  t.equal(limiter.retryAfterSeconds('a'), 57);
  t.equal(limiter.retryAfterSeconds('b'), 0);
  clock.now += 57_000;
  t.equal(limiter.retryAfterSeconds('a'), 0);
  limiter.fail('b');
  limiter.fail('c');
  limiter.fail('d');
  t.equal((limiter as unknown as { failures: Map<string, number[]> }).failures.size, 2, 'oldest address forgotten');
});

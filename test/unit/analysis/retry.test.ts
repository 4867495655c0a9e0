import t from 'tap';
import { budgetHold, budgetMessage, nextUtcMidnight } from '../../../agent/analysis/budget.js';
import { deferReason, failureReason } from '../../../agent/analysis/deferral.js';
import { AnalysisError, MalformedAnswerError } from '../../../agent/analysis/errors.js';
import { RetryGate } from '../../../agent/analysis/retry.js';

const policy = { initialMs: 100, maxMs: 1000, maxAttempts: 3 };
const quota = () => new AnalysisError('HTTP 429', { retryable: true, status: 429 });
const offline = () => new AnalysisError('fetch failed', { retryable: true, offline: true });
const server = () => new AnalysisError('HTTP 500', { retryable: true, status: 500 });

t.test('429 and an unreachable API hold the queue and never use up tries; other failures do', async (t) => {
  const gate = new RetryGate(policy, () => 0);
  for (let i = 0; i < 10; i++)
    t.match(gate.failed(i % 2 ? quota() : offline(), 0, 1000), { retry: true, attempts: 0 }, `hold ${i + 1}`);
  t.equal(gate.held(1000), 'rate-limit', 'the last hold names its cause');
  t.equal(gate.held(1000 + 1001), null, 'backoff capped at maxMs');
  t.match(gate.failed(offline(), 0, 5000), { retry: true, delayMs: 1000 }, 'the streak grew the backoff to its cap');
  t.equal(gate.held(5000), 'offline');
  t.equal(gate.until, 6000, 'the hold ends after the delay');
  gate.succeeded();
  t.match(gate.failed(offline(), 0, 9000), { retry: true, delayMs: 100 }, 'a success starts it afresh');
  t.match(gate.failed(server(), 0, 9000), { retry: true, attempts: 1, delayMs: 100 });
  t.match(gate.failed(server(), 2, 9000), { retry: false, attempts: 3, reason: 'gave up after 3 tries: HTTP 500' });
  t.match(gate.failed(new MalformedAnswerError('not JSON'), 0, 9000), { retry: false, reason: 'not JSON' });
  t.match(
    gate.failed(new AnalysisError('HTTP 429', { retryable: true, status: 429, retryAfterMs: 7000 }), 0, 9000),
    { retry: true, delayMs: 7000 },
    'RetryInfo honoured',
  );
});

t.test('reasons: failures, and why a job still has no result', async (t) => {
  t.equal(failureReason(quota()), 'quota');
  t.equal(failureReason(offline()), 'offline');
  t.equal(failureReason(new AnalysisError('HTTP 503', { retryable: true, status: 503 })), 'offline');
  t.equal(failureReason(server()), 'error');
  const job = { waitReason: null, countedDay: null, result: null };
  const calm = { hold: null, rateLimited: false, lastReason: null, isActive: () => false };
  const cases: Array<[string, Parameters<typeof deferReason>, string]> = [
    ['over budget, not started', [job, { ...calm, hold: 'budget' }], 'budget'],
    ['over the archive cap, not counted', [job, { ...calm, hold: 'cap' }], 'budget'],
    [
      'over the cap but already counted: not the budget',
      [
        { ...job, countedDay: '2026-03-02', waitReason: 'error' },
        { ...calm, hold: 'cap' },
      ],
      'error',
    ],
    ['the queue is rate-limited', [job, { ...calm, rateLimited: true }], 'quota'],
    ['its own last failure', [{ ...job, waitReason: 'offline' }, calm], 'offline'],
    ["never tried: the queue's last failure", [job, { ...calm, lastReason: 'error' }], 'error'],
    ['nothing failing, in its first try', [job, calm, true], 'offline'],
    ['nothing failing, waiting its turn', [job, calm, false], 'quota'],
  ];
  for (const [name, args, expected] of cases) t.equal(deferReason(...args), expected, name);
});

t.test('the budget: holds, the day boundary and the retained message', async (t) => {
  const day = { day: '2026-03-02', sent: 3, done: 3, failed: 0, skipped: 0, tokens: 5000, requests: 4 };
  t.equal(budgetHold(day, { tokens: null, requests: null, archives: 200 }), null);
  t.equal(budgetHold(day, { tokens: 5000, requests: null, archives: 200 }), 'budget');
  t.equal(budgetHold(day, { tokens: null, requests: 4, archives: 200 }), 'budget');
  t.equal(budgetHold(day, { tokens: null, requests: null, archives: 3 }), 'cap');
  t.equal(new Date(nextUtcMidnight(Date.parse('2026-03-02T23:59:59.999Z'))).toISOString(), '2026-03-03T00:00:00.000Z');
  t.same(budgetMessage(day, { tokens: 100000, requests: null, archives: 200 }, 2, Date.parse('2026-03-02T10:00:00Z')), {
    tokensUsed: 5000,
    tokenLimit: 100000,
    requestsUsed: 4,
    requestLimit: null,
    resetsAt: '2026-03-03T00:00:00.000Z',
    queued: 2,
    ts: '2026-03-02T10:00:00.000Z',
  });
});

import { ApiError } from '@google/genai';
import t from 'tap';
import { AbortedError, AnalysisError } from '../../../agent/analysis/errors.js';
import { classify, isUnreachable, retryDelayFrom } from '../../../agent/analysis/gemini.js';

const body429 = JSON.stringify({
  error: {
    code: 429,
    status: 'RESOURCE_EXHAUSTED',
    message: 'quota',
    details: [
      { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [] },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '37s' },
    ],
  },
});

t.test('retryDelayFrom reads RetryInfo.retryDelay', async (t) => {
  t.equal(retryDelayFrom(body429), 37_000, 'plain JSON body');
  t.equal(retryDelayFrom(`got status: 429 Too Many Requests. ${body429}`), 37_000, 'stream error form');
  t.equal(
    retryDelayFrom(
      JSON.stringify({
        error: { details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.5s' }] },
      }),
    ),
    1500,
  );
  t.equal(retryDelayFrom('{"error":{"code":500}}'), null, 'none given');
  t.equal(retryDelayFrom('not json'), null);
});

t.test('classify says what to retry', async (t) => {
  const cases: Array<[string, unknown, boolean, number | null]> = [
    ['429 with delay', new ApiError({ status: 429, message: body429 }), true, 37_000],
    ['500', new ApiError({ status: 500, message: '{"error":{"code":500,"message":"internal"}}' }), true, null],
    ['503', new ApiError({ status: 503, message: 'x' }), true, null],
    ['408', new ApiError({ status: 408, message: 'x' }), true, null],
    [
      '400 bad key',
      new ApiError({
        status: 400,
        message: '{"error":{"code":400,"status":"INVALID_ARGUMENT","message":"API key not valid"}}',
      }),
      false,
      null,
    ],
    ['403', new ApiError({ status: 403, message: 'x' }), false, null],
    ['network', new TypeError('fetch failed'), true, null],
    ['client timeout', Object.assign(new Error('aborted'), { name: 'AbortError' }), true, null],
  ];
  for (const [name, error, retryable, delay] of cases) {
    const c = classify(error, 'step');
    t.equal(c.retryable, retryable, `${name}: retryable`);
    t.equal(c.retryAfterMs, delay, `${name}: delay`);
    t.match(c.message, /^step: /, `${name}: names the step`);
  }
  t.match(
    classify(
      new ApiError({
        status: 400,
        message: '{"error":{"code":400,"status":"INVALID_ARGUMENT","message":"API key not valid"}}',
      }),
      'upload',
    ).message,
    'upload: HTTP 400 INVALID_ARGUMENT: API key not valid',
  );
  const ours = new AnalysisError('x', { retryable: false });
  t.equal(classify(ours, 'step'), ours, 'already classified');
  const controller = new AbortController();
  controller.abort();
  t.type(classify(new Error('aborted'), 'step', controller.signal), AbortedError, 'our own stop is not a failure');
});

t.test('an unreachable API is told apart from a slow or failing one', async (t) => {
  const refused = new TypeError('fetch failed', {
    cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
  });
  t.equal(classify(refused, 'upload').offline, true, 'connection refused');
  const reset = new TypeError('fetch failed', {
    cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }),
  });
  t.equal(classify(reset, 'upload').offline, true, 'socket closed');
  t.equal(isUnreachable(new Error('plain')), false);
  const timeout = Object.assign(new Error('timed out'), { name: 'TimeoutError' });
  t.equal(classify(timeout, 'generateContent').offline, false, 'a time-out counts against the job');
});

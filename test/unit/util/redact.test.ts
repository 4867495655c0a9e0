/** util/redact.ts: the one redaction of URL secrets (issue 15: query-string passwords were never redacted). */
import t from 'tap';
import { AgentError } from '../../../agent/contract/errors.js';
import { redactDeep, redactSecrets } from '../../../agent/util/redact.js';

const cases: Array<[string, string, string]> = [
  ['user info password', 'rtsp://admin:pw@cam/live', 'rtsp://admin:[redacted]@cam/live'],
  ['an @ inside the password', 'rtsp://admin:p@ss@cam/live', 'rtsp://admin:[redacted]@cam/live'],
  ['a user name alone is no secret', 'mqtts://agent@broker', 'mqtts://agent@broker'],
  [
    'query password and token',
    'http://cam/snap.cgi?user=admin&password=pw&token=t&ch=1',
    'http://cam/snap.cgi?user=admin&password=[redacted]&token=[redacted]&ch=1',
  ],
  [
    'query key, sig, auth, secret',
    'https://p/v1?key=k&sig=s&auth=a&client_secret=c&x=1',
    'https://p/v1?key=[redacted]&sig=[redacted]&auth=[redacted]&client_secret=[redacted]&x=1',
  ],
  ['both, and a fragment', 'rtsps://u:p@cam:322/a?pwd=x#frag', 'rtsps://u:[redacted]@cam:322/a?pwd=[redacted]#frag'],
  [
    'harmless query kept',
    'rtsp://cam/Streaming/Channels/101?transportmode=unicast',
    'rtsp://cam/Streaming/Channels/101?transportmode=unicast',
  ],
  [
    'inside a sentence (an FFmpeg error)',
    '[rtsp @ 0x1] rtsp://a:b@10.0.0.9:554/x?token=t: Connection refused',
    '[rtsp @ 0x1] rtsp://a:[redacted]@10.0.0.9:554/x?token=[redacted]: Connection refused',
  ],
  ['two URLs', 'from mqtt://u:p@a to mqtt://v:q@b', 'from mqtt://u:[redacted]@a to mqtt://v:[redacted]@b'],
  ['no URL', 'embedded', 'embedded'],
  ['a path with @ and :', 'wss://broker/path@x:y', 'wss://broker/path@x:y'],
  ['file: has no authority', 'file:/tmp/a:b@c', 'file:/tmp/a:b@c'],
];
for (const [name, input, expected] of cases) t.equal(redactSecrets(input), expected, name);

t.test('redactDeep walks records, arrays and errors without touching the input', async (t) => {
  const input = {
    a: ['x', 'rtsp://u:p@h/'],
    n: 3,
    e: Object.assign(new Error('rtsp://u:p@h/ failed'), { code: 'E1' }),
  };
  const out = redactDeep(input) as typeof input;
  t.same(out.a, ['x', 'rtsp://u:[redacted]@h/']);
  t.equal(out.n, 3);
  t.ok(out.e instanceof Error);
  t.equal(out.e.message, 'rtsp://u:[redacted]@h/ failed');
  t.equal((out.e as Error & { code: string }).code, 'E1');
  t.equal(input.a[1], 'rtsp://u:p@h/', 'input untouched');
});

t.test('an error keeps its class and its cause chain, each link redacted; a looping chain stays finite', async (t) => {
  const inner = Object.assign(new Error('connect rtsp://u:p@h/ refused'), { code: 'ECONNREFUSED' });
  const outer = new AgentError('source_unavailable', 'camera cam1 lost', { cause: inner });
  const out = redactDeep(outer) as AgentError & { cause: Error & { code: string } };
  t.ok(out instanceof AgentError, 'pino names the type from the constructor');
  t.equal(out.code, 'source_unavailable');
  t.ok(out.cause instanceof Error);
  t.equal(out.cause.message, 'connect rtsp://u:[redacted]@h/ refused');
  t.equal(out.cause.code, 'ECONNREFUSED');
  t.notMatch(out.cause.stack ?? '', 'u:p@', 'the stack is redacted too');
  t.equal(inner.message, 'connect rtsp://u:p@h/ refused', 'input untouched');

  const loop = new Error('a');
  loop.cause = new Error('b', { cause: loop });
  const copy = redactDeep(loop) as Error & { cause: Error & { cause: unknown } };
  t.equal(copy.cause.cause, copy, 'the loop is copied as a loop');
});

import { createHmac } from 'node:crypto';
import t from 'tap';
import { canonicalJson, parseTs, signCommand, SignatureVerifier } from '../../../agent/link/signature.js';

const KEY = 'k3y';
let now = Date.parse('2025-01-01T00:00:00Z');
const clock = { now: () => now, setTimeout, clearTimeout };
const verifier = () => new SignatureVerifier({ key: () => KEY, clock });

t.test('canonical JSON sorts keys at every level, keeps array order, no white space', async (t) => {
  t.equal(
    canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 'x' }], c: null } }),
    '{"a":{"c":null,"d":[3,{"y":"x","z":1}]},"b":1}',
  );
  t.equal(canonicalJson('é\n'), '"é\\n"');
});

t.test('the signed text is <name>\\n<ts>\\n<canonical body without sig>', async (t) => {
  const body = { ts: 1735689600000, set: { 'a.b': 1 }, replyTo: 'r' };
  const text = 'set-config\n1735689600000\n{"replyTo":"r","set":{"a.b":1},"ts":1735689600000}';
  t.equal(signCommand(KEY, 'set-config', body).sig, createHmac('sha256', KEY).update(text).digest('hex'));
});

t.test('ts: epoch ms or ISO', async (t) => {
  t.equal(parseTs(5), 5);
  t.equal(parseTs('5'), 5);
  t.equal(parseTs('2025-01-01T00:00:00Z'), Date.parse('2025-01-01T00:00:00Z'));
  t.equal(parseTs('yesterday'), null);
  t.equal(parseTs(null), null);
  t.equal(parseTs(Number.NaN), null);
});

const cases: Array<{ name: string; body: () => Record<string, unknown>; ok: boolean }> = [
  { name: 'good, epoch ms', body: () => signCommand(KEY, 'ping', { ts: now }), ok: true },
  {
    name: 'good, ISO ts 30 s old',
    body: () => signCommand(KEY, 'ping', { ts: new Date(now - 30_000).toISOString() }),
    ok: true,
  },
  { name: 'missing sig', body: () => ({ ts: now }), ok: false },
  { name: 'missing ts', body: () => signCommand(KEY, 'ping', {}), ok: false },
  { name: 'wrong key', body: () => signCommand('other', 'ping', { ts: now }), ok: false },
  { name: 'signed for another command', body: () => signCommand(KEY, 'probe', { ts: now }), ok: false },
  { name: 'stale (61 s old)', body: () => signCommand(KEY, 'ping', { ts: now - 61_000 }), ok: false },
  { name: 'from the future (61 s)', body: () => signCommand(KEY, 'ping', { ts: now + 61_000 }), ok: false },
  {
    name: 'field changed after signing',
    body: () => ({ ...signCommand(KEY, 'ping', { ts: now, id: 1 }), id: 2 }),
    ok: false,
  },
  { name: 'sig not hex', body: () => ({ ts: now, sig: 'zz' }), ok: false },
];

for (const c of cases) {
  t.test(`verify: ${c.name}`, async (t) => {
    const v = verifier();
    if (c.ok) t.doesNotThrow(() => v.verify('ping', c.body()));
    else t.throws(() => v.verify('ping', c.body()), { code: 'unauthorized' });
  });
}

t.test('a replayed signature is refused; the cache forgets it once it is stale anyway', async (t) => {
  const v = verifier();
  const body = signCommand(KEY, 'ping', { ts: now });
  v.verify('ping', body);
  t.throws(() => v.verify('ping', body), { code: 'unauthorized', message: /replayed/ });
  now += 61_000;
  t.throws(() => v.verify('ping', body), { message: /off the agent clock/ });
  t.doesNotThrow(() => v.verify('ping', signCommand(KEY, 'ping', { ts: now })));
});

t.test('no key: nothing required', async (t) => {
  const v = new SignatureVerifier({ key: () => null, clock });
  t.equal(v.enabled(), false);
  t.doesNotThrow(() => v.verify('ping', {}));
});

// Issue 15: the contract's text covers neither the board nor the topic, so a command signed for one
// board was accepted by every other board sharing the key. The v2 form covers both.
t.test('scoped (v2) signatures cover the device id and the topic', async (t) => {
  const scope = { deviceId: 'gate-01', topic: 'edge/gate-01/cmd/ping' };
  const body = { ts: 1735689600000, id: 1 };
  const text = 'v2\ngate-01\nedge/gate-01/cmd/ping\nping\n1735689600000\n{"id":1,"ts":1735689600000}';
  t.equal(
    signCommand(KEY, 'ping', body, scope).sig,
    createHmac('sha256', KEY).update(text).digest('hex'),
    'the documented text',
  );
  const scoped = (required: boolean, deviceId = 'gate-01') =>
    new SignatureVerifier({ key: () => KEY, clock, deviceId: () => deviceId, requireScoped: () => required });
  t.doesNotThrow(
    () => scoped(false).verify('ping', signCommand(KEY, 'ping', { ts: now }, scope), scope.topic),
    'v2 accepted',
  );
  t.doesNotThrow(
    () => scoped(false).verify('ping', signCommand(KEY, 'ping', { ts: now }), scope.topic),
    'the contract form still accepted by default',
  );
  t.throws(
    () => scoped(true).verify('ping', signCommand(KEY, 'ping', { ts: now }), scope.topic),
    { code: 'unauthorized', message: /scoped v2/ },
    'the contract form refused when only v2 is allowed',
  );
  t.doesNotThrow(
    () => scoped(true).verify('ping', signCommand(KEY, 'ping', { ts: now }, scope), scope.topic),
    'v2 accepted when required',
  );
  const forA = signCommand(KEY, 'ping', { ts: now }, scope);
  t.throws(
    () => scoped(false, 'gate-02').verify('ping', forA, 'edge/gate-02/cmd/ping'),
    { code: 'unauthorized' },
    'signed for gate-01, refused by gate-02',
  );
  t.throws(
    () =>
      scoped(false).verify(
        'ping',
        signCommand(KEY, 'ping', { ts: now }, { ...scope, topic: 'other/gate-01/cmd/ping' }),
        scope.topic,
      ),
    { code: 'unauthorized' },
    'signed for another topic',
  );
  t.throws(
    () => scoped(true).verify('ping', signCommand(KEY, 'ping', { ts: now }, scope)),
    { code: 'unauthorized' },
    'no topic known: v2 cannot match',
  );
});

t.test('desired documents: the same two forms', async (t) => {
  const topic = 'edge/gate-01/config/desired';
  const doc = { version: 3, set: { 'hls.listSize': 8 } };
  const v = (required: boolean) =>
    new SignatureVerifier({ key: () => KEY, clock, deviceId: () => 'gate-01', requireScoped: () => required });
  t.ok(
    v(false).verifyDocument('config/desired', signCommand(KEY, 'config/desired', doc), topic),
    'contract form by default',
  );
  t.notOk(
    v(true).verifyDocument('config/desired', signCommand(KEY, 'config/desired', doc), topic),
    'contract form refused when v2 is required',
  );
  t.ok(
    v(true).verifyDocument(
      'config/desired',
      signCommand(KEY, 'config/desired', doc, { deviceId: 'gate-01', topic }),
      topic,
    ),
    'v2',
  );
  t.notOk(
    v(false).verifyDocument(
      'config/desired',
      signCommand(KEY, 'config/desired', doc, { deviceId: 'gate-02', topic: 'edge/gate-02/config/desired' }),
      topic,
    ),
    'v2 for another board',
  );
});

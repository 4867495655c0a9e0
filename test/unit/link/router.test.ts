import t from 'tap';
import { createCommands } from '../../../agent/commands/index.js';
import { buildTopics, isSafeReplyTopic } from '../../../agent/contract/topics.js';
import { CommandRouter } from '../../../agent/link/router.js';
import { signCommand, SignatureVerifier } from '../../../agent/link/signature.js';
import { silentLogger } from '../../../agent/util/logger.js';
import { FakeConfig, fakeCommandDeps, testConfig } from '../../helpers/agentFakes.js';

function router(key: string | null = null) {
  const config = new FakeConfig(testConfig());
  const { deps } = fakeCommandDeps(config);
  const verifier = new SignatureVerifier({ key: () => key });
  return { config, router: new CommandRouter({ commands: createCommands(deps), log: silentLogger(), verifier }) };
}
const send = (
  r: CommandRouter,
  name: string,
  body: unknown,
  extra: { responseTopic?: string; correlationData?: Buffer } = {},
) => r.handle({ name, payload: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), ...extra });

t.test('3.1.1 form: replyTo and id in the body, id echoed', async (t) => {
  const { router: r } = router();
  const reply = await send(r, 'ping', { replyTo: 'back/1', id: 'abc' });
  t.equal(reply?.topic, 'back/1');
  t.match(reply?.body, { ok: true, result: { pong: true, version: '0.1.0-test' }, id: 'abc' });
});

t.test('MQTT 5 form: Response Topic and Correlation Data win', async (t) => {
  const { router: r } = router();
  const correlationData = Buffer.from('c1');
  const reply = await send(r, 'ping', {}, { responseTopic: 'resp/x', correlationData });
  t.equal(reply?.topic, 'resp/x');
  t.equal(reply?.correlationData, correlationData);
  t.equal(reply?.body.ok, true);
  t.notOk('id' in reply!.body);
});

const bad: Array<[string, string, unknown, string]> = [
  ['malformed JSON', 'ping', '{"replyTo":', 'bad_request'],
  ['an array', 'ping', '[1]', 'bad_request'],
  ['a string', 'ping', '"hi"', 'bad_request'],
  ['unknown command', 'reboot', {}, 'unknown_command'],
  ['a prototype key as command', '__proto__', {}, 'unknown_command'],
  ['unknown field', 'ping', { x: 1 }, 'bad_request'],
];
for (const [name, command, body, code] of bad) {
  t.test(`refused: ${name} (error reply only when a reply topic is known)`, async (t) => {
    const { router: r, config } = router();
    const before = JSON.stringify(config.current());
    const reply = await send(r, command, body, { responseTopic: 'resp/x' });
    t.match(reply?.body, { ok: false, error: { code } });
    t.equal(JSON.stringify(config.current()), before);
  });
}

t.test('no reply topic: nothing to reply, nothing done', async (t) => {
  const { router: r } = router();
  t.equal(await send(r, 'ping', {}), null);
  t.equal(await send(r, 'ping', 'not json'), null);
  t.equal(await send(r, 'ping', { replyTo: 5 }), null);
});

t.test('handler errors that are not AgentError become internal', async (t) => {
  const log = silentLogger();
  const r = new CommandRouter({
    log,
    commands: {
      boom: {
        parse: () => undefined,
        run: async () => {
          throw new TypeError('x is undefined');
        },
      },
    },
  });
  const reply = await send(r, 'boom', { replyTo: 'r' });
  t.same(reply?.body, { ok: false, error: { code: 'internal', message: 'x is undefined' } });
});

t.test('signed commands: good passes, unsigned and replayed are unauthorized', async (t) => {
  const { router: r } = router('key');
  const body = signCommand('key', 'ping', { replyTo: 'r', id: 1, ts: Date.now() });
  t.match((await send(r, 'ping', body))?.body, { ok: true, id: 1 });
  t.match((await send(r, 'ping', body))?.body, { ok: false, error: { code: 'unauthorized' } });
  t.match((await send(r, 'ping', { replyTo: 'r' }))?.body, { ok: false, error: { code: 'unauthorized' } });
});

// Issue 15: replies went to any replyTo, another device's cmd topic included, echoing the sender's id.
t.test(
  'a reply topic outside R/reply/ inside the fleet tree: the command does not run and nothing is sent',
  async (t) => {
    const config = new FakeConfig(testConfig());
    const { deps } = fakeCommandDeps(config);
    const topics = buildTopics('edge', 'gate-01');
    const r = new CommandRouter({
      commands: createCommands(deps),
      log: silentLogger(),
      replyTopicAllowed: (topic) => isSafeReplyTopic(topics, topic),
    });
    const set = { set: { 'mqtt.healthIntervalSeconds': 9 } };
    for (const replyTo of ['edge/gate-02/cmd/set-config', 'edge/gate-02/reply/1', 'edge/gate-01/status', '$SYS/x']) {
      t.equal(await send(r, 'set-config', { ...set, replyTo, id: 1 }), null, `3.1.1 ${replyTo}`);
      t.equal(await send(r, 'set-config', set, { responseTopic: replyTo }), null, `v5 ${replyTo}`);
      t.equal(await send(r, 'ping', '{"broken', { responseTopic: replyTo }), null, `malformed, v5 ${replyTo}`);
    }
    t.same(config.sets, [], 'nothing changed');
    t.match(await send(r, 'set-config', { ...set, replyTo: 'edge/gate-01/reply/7', id: 7 }), {
      topic: 'edge/gate-01/reply/7',
      body: { ok: true, id: 7 },
    });
    t.match(await send(r, 'ping', {}, { responseTopic: 'backend/inbox/1' }), {
      topic: 'backend/inbox/1',
      body: { ok: true },
    });
  },
);

t.test('an unauthorised request is answered, echoing only a short id and correlation data', async (t) => {
  const { router: r } = router('k'.repeat(32));
  const long = 'x'.repeat(500);
  const a = await send(r, 'ping', { replyTo: 'back/1', id: { nested: 'payload to relay' } });
  t.match(a, { topic: 'back/1', body: { ok: false, error: { code: 'unauthorized' } } });
  t.notOk('id' in a!.body, 'an object id is not echoed');
  t.notOk('id' in (await send(r, 'ping', { replyTo: 'back/1', id: long }))!.body, 'a long id is not echoed');
  t.equal((await send(r, 'ping', { replyTo: 'back/1', id: 'req-1' }))!.body.id, 'req-1', 'a short id is');
  t.equal(
    (await send(r, 'ping', {}, { responseTopic: 'back/2', correlationData: Buffer.from(long) }))!.correlationData,
    undefined,
    'long correlation data dropped',
  );
  t.same(
    (await send(r, 'ping', {}, { responseTopic: 'back/2', correlationData: Buffer.from('c1') }))!.correlationData,
    Buffer.from('c1'),
  );
});

t.test(
  "update: without a command key `sig` is the release signature; with one it is the command's and releaseSig carries the release's",
  async (t) => {
    const got: Array<Record<string, unknown>> = [];
    const make = (key: string | null) => {
      const config = new FakeConfig(testConfig());
      const { deps } = fakeCommandDeps(config);
      deps.updates = { request: async (body) => (got.push(body), { accepted: true, version: '2.0.0', attempt: 'a' }) };
      return new CommandRouter({
        commands: createCommands(deps),
        log: silentLogger(),
        verifier: new SignatureVerifier({ key: () => key }),
      });
    };
    const release = { manifest: { version: '2.0.0' }, url: 'http://x/r.tar.gz' };
    const releaseSig = 'ab'.repeat(64);
    const open = await send(make(null), 'update', { ...release, sig: releaseSig }, { responseTopic: 'resp/x' });
    t.match(open?.body, { ok: true });
    t.same(got.pop(), { ...release, sig: releaseSig }, 'no key: sig passed on as the release signature');

    const key = 'k'.repeat(32);
    const keyed = make(key);
    const unsigned = await send(keyed, 'update', { ...release, sig: releaseSig }, { responseTopic: 'resp/x' });
    t.match(
      unsigned?.body,
      { ok: false, error: { code: 'unauthorized' } },
      'with a key, an update without the command signature is refused',
    );
    t.equal(got.length, 0);
    const signed = signCommand(key, 'update', { ...release, releaseSig, ts: Date.now() });
    t.match((await send(keyed, 'update', signed, { responseTopic: 'resp/x' }))?.body, { ok: true });
    t.same(
      got.pop(),
      { ...release, releaseSig },
      'the command signature stays in the envelope; the release signature arrives as releaseSig',
    );
  },
);

t.test('a request over 64 KiB is refused before it is parsed', async (t) => {
  const { router: r } = router();
  const reply = await send(r, 'ping', `{"pad":"${'x'.repeat(64 * 1024)}"}`, { responseTopic: 'resp/x' });
  t.match(reply?.body, { ok: false, error: { code: 'bad_request', message: /larger than 65536 bytes/ } });
});

t.test('more commands at once than maxConcurrent: the one over is refused, the rest run', async (t) => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const ran: string[] = [];
  const r = new CommandRouter({
    log: silentLogger(),
    maxConcurrent: 1,
    commands: {
      slow: {
        parse: () => undefined,
        run: async () => {
          ran.push('slow');
          await held;
          return { done: true };
        },
      },
    },
  });
  const first = send(r, 'slow', { replyTo: 'r' });
  const second = await send(r, 'slow', {}, { responseTopic: 'resp/x' });
  const busy = { code: 'busy', message: 'too many commands in progress; try again when one has replied' };
  t.same(second?.body, { ok: false, error: busy });
  t.same(
    await send(r, 'slow', { replyTo: 'r', id: 7 }),
    { topic: 'r', body: { ok: false, error: busy, id: 7 }, correlationData: undefined },
    'a 3.1.1 request over the limit is answered on the reply topic in its body',
  );
  release();
  t.same((await first)?.body, { ok: true, result: { done: true } });
  t.same((await send(r, 'slow', { replyTo: 'r' }))?.body, { ok: true, result: { done: true } }, 'a slot again');
  t.same(ran, ['slow', 'slow'], 'the refused one never ran');
});

t.test('a command that returns nothing replies with a null result; a thrown non-Error is internal', async (t) => {
  const r = new CommandRouter({
    log: silentLogger(),
    commands: {
      quiet: { parse: () => undefined, run: async () => undefined },
      odd: {
        parse: () => undefined,
        run: async () => {
          throw 'a plain string';
        },
      },
    },
  });
  t.same((await send(r, 'quiet', { replyTo: 'r', id: 3 }))?.body, { ok: true, result: null, id: 3 });
  t.same((await send(r, 'odd', { replyTo: 'r' }))?.body, {
    ok: false,
    error: { code: 'internal', message: 'a plain string' },
  });
});

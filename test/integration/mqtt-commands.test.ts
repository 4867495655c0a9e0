import t, { type Test } from 'tap';
import type { AgentConfig } from '../../agent/config/types.js';
import { signCommand } from '../../agent/link/signature.js';
import { ARCHIVES, testConfig } from '../helpers/agentFakes.js';
import { LinkProcess } from '../helpers/linkProcess.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { sleep, TestClient } from '../helpers/mqttClient.js';

const R = 'edge/gate-01';
const KEY = 'test-command-key';

async function setup(t: Test, commandKey: string | null = null, mqtt: Partial<AgentConfig['mqtt']> = {}) {
  const dir = t.testdir();
  const broker = new Mosquitto({ dir: `${dir}/broker` });
  await broker.start();
  t.teardown(() => broker.stop());
  const config = testConfig({ url: broker.url, dataDir: `${dir}/data` });
  config.mqtt = { ...config.mqtt, ...mqtt };
  const input = { config, password: null, commandKey };
  const link = await LinkProcess.start(dir, input);
  t.teardown(() => link.kill());
  await link.connected();
  const v5 = await TestClient.connect(broker.url);
  const v311 = await TestClient.connect(broker.url, { protocolVersion: 4 });
  t.teardown(() => Promise.all([v5.end(), v311.end()]));
  return { broker, link, clients: { v5, v311 } };
}

const good: Array<[string, Record<string, unknown>, unknown]> = [
  ['ping', {}, { pong: true, version: '0.1.0-test', uptime: Number }],
  ['get-config', {}, { device: { id: 'gate-01' }, mqtt: { passwordFile: '[redacted]' } }],
  ['set-config', { set: { 'mqtt.healthIntervalSeconds': 60 } }, { changed: ['mqtt.healthIntervalSeconds'] }],
  ['restart-pipeline', { camera: 'cam1' }, { restarted: ['cam1'] }],
  ['snapshot', {}, { camera: 'cam1', jpegBase64: String, width: 320, height: 240, ts: String }],
  ['list-archives', { limit: 1 }, [{ camera: 'cam1', file: ARCHIVES[0]!.file, analysed: false }]],
  ['analyze', { camera: 'cam1', file: ARCHIVES[0]!.file }, { queued: true }],
  ['probe', {}, { encoders: Array }],
];
const bad: Array<[string, Record<string, unknown>, string]> = [
  ['ping', { extra: 1 }, 'bad_request'],
  ['get-config', { x: 1 }, 'bad_request'],
  ['set-config', { set: { 'cameras[0].fps': 0 } }, 'config_invalid'],
  ['set-config', { set: 'fps=0' }, 'bad_request'],
  ['restart-pipeline', { camera: 'nope' }, 'not_found'],
  ['snapshot', { camera: 7 }, 'bad_request'],
  ['list-archives', { limit: -1 }, 'bad_request'],
  ['analyze', { camera: 'cam1' }, 'bad_request'],
  ['probe', { x: null }, 'bad_request'],
  ['reboot', {}, 'unknown_command'],
];

t.test('every command, good and bad, in both reply forms', async (t) => {
  const { link, clients } = await setup(t);
  for (const form of ['v5', 'v311'] as const) {
    for (const [name, body, result] of good) {
      const reply = await clients[form].command(`${R}/cmd/${name}`, body, form, `${R}/reply`);
      t.match(reply.json, { ok: true, result }, `${form} ${name}`);
      if (form === 'v5') t.ok(reply.correlationData?.length, 'correlation data echoed');
      else t.type((reply.json as { id: unknown }).id, 'string', 'id echoed');
    }
    for (const [name, body, code] of bad) {
      const reply = await clients[form].command(`${R}/cmd/${name}`, body, form, `${R}/reply`);
      t.match(
        reply.json,
        { ok: false, error: { code, message: String } },
        `${form} ${name} ${JSON.stringify(body)} → ${code}`,
      );
    }
  }
  const state = await link.state();
  t.equal(state.sets.length, 2, 'only the two good set-config requests changed the config');
});

t.test('malformed JSON gets an error reply on the v5 response topic', async (t) => {
  const { clients } = await setup(t);
  await clients.v5.subscribe(`${R}/reply/raw`);
  await clients.v5.client.publishAsync(`${R}/cmd/ping`, '{"oops', {
    qos: 1,
    properties: { responseTopic: `${R}/reply/raw`, correlationData: Buffer.from('x') },
  });
  const reply = await clients.v5.waitFor((m) => m.topic === `${R}/reply/raw`);
  t.match(reply.json, { ok: false, error: { code: 'bad_request' } });
  t.equal(reply.correlationData?.toString(), 'x');
});

t.test('a reply topic on our own topics is refused (no self-feeding, no spoofed status)', async (t) => {
  const { clients, link } = await setup(t);
  await clients.v311.subscribe(`${R}/#`);
  await clients.v311.raw(
    `${R}/cmd/set-config`,
    JSON.stringify({ set: { 'mqtt.healthIntervalSeconds': 5 }, replyTo: `${R}/cmd/set-config` }),
  );
  await sleep(500);
  t.equal(clients.v311.on(`${R}/cmd/set-config`).length, 1, 'only our own request, no reply looping back');
  t.equal((await link.state()).sets.length, 0, 'a request naming a forbidden reply topic does not run (issue 15)');
});

t.test("a reply never lands on another device's tree (issue 15: replies fed another board's cmd topic)", async (t) => {
  const { clients, link } = await setup(t);
  const other = 'edge/gate-02';
  await clients.v5.subscribe(`${other}/#`);
  await clients.v311.raw(
    `${R}/cmd/ping`,
    JSON.stringify({ replyTo: `${other}/cmd/set-config`, id: { set: { 'mqtt.url': 'mqtt://evil' } } }),
  );
  await clients.v5.client.publishAsync(`${R}/cmd/ping`, '{}', {
    qos: 1,
    properties: { responseTopic: `${other}/reply/1`, correlationData: Buffer.from('x') },
  });
  await sleep(800);
  t.same(
    clients.v5.inbox.filter((m) => m.topic.startsWith(`${other}/`)).map((m) => m.topic),
    [],
    'nothing published under gate-02',
  );
  t.match(
    (await clients.v5.command(`${R}/cmd/ping`, {}, 'v5', `${R}/reply`)).json,
    { ok: true },
    'R/reply/ still answered',
  );
  t.equal(link.child.exitCode, null);
});

t.test('signed commands: good, wrong key, stale, replayed, unsigned', async (t) => {
  const { clients, link } = await setup(t, KEY);
  const c = clients.v311;
  const send = (body: Record<string, unknown>) => c.command(`${R}/cmd/set-config`, body, 'v311', `${R}/reply`);
  // The signature covers replyTo and id, so the test signs the full body itself.
  const signed = (key: string, ts: number | string, n: number) =>
    signCommand(key, 'set-config', {
      set: { 'mqtt.healthIntervalSeconds': n },
      replyTo: `${R}/reply/s${n}`,
      id: `s${n}`,
      ts,
    });
  await c.subscribe(`${R}/reply/#`);
  const raw = async (body: Record<string, unknown>) => {
    await c.raw(`${R}/cmd/set-config`, JSON.stringify(body));
    return (await c.waitFor((m) => m.topic === body.replyTo && (m.json as { id: string }).id === body.id)).json;
  };
  t.match(
    await raw(signed(KEY, Date.now(), 11)),
    { ok: true, result: { changed: ['mqtt.healthIntervalSeconds'] } },
    'good, epoch ms',
  );
  t.match(await raw(signed(KEY, new Date().toISOString(), 12)), { ok: true }, 'good, ISO ts');
  t.match(await raw(signed('wrong-key', Date.now(), 13)), { ok: false, error: { code: 'unauthorized' } }, 'wrong key');
  t.match(await raw(signed(KEY, Date.now() - 120_000, 14)), { ok: false, error: { code: 'unauthorized' } }, 'stale');
  const once = signed(KEY, Date.now(), 15);
  t.match(await raw(once), { ok: true }, 'first use');
  c.inbox.length = 0;
  t.match(await raw(once), { ok: false, error: { code: 'unauthorized', message: /replayed/ } }, 'replayed');
  t.match(
    (await send({ set: { 'mqtt.healthIntervalSeconds': 16 } })).json,
    { ok: false, error: { code: 'unauthorized' } },
    'unsigned',
  );
  const state = await link.state();
  t.same(state.sets, [
    { 'mqtt.healthIntervalSeconds': 11 },
    { 'mqtt.healthIntervalSeconds': 12 },
    { 'mqtt.healthIntervalSeconds': 15 },
  ]);
});

t.test(
  'scoped signatures: v2 for this board accepted; for another board refused; mqtt.requireScopedSignatures refuses the old form',
  async (t) => {
    for (const required of [false, true]) {
      const { clients, link } = await setup(t, KEY, { requireScopedSignatures: required });
      const c = clients.v311;
      await c.subscribe(`${R}/reply/#`);
      const send = async (body: Record<string, unknown>) => {
        await c.raw(`${R}/cmd/set-config`, JSON.stringify(body));
        return (await c.waitFor((m) => m.topic === body.replyTo && (m.json as { id: string }).id === body.id)).json;
      };
      const body = (n: number) => ({
        set: { 'mqtt.healthIntervalSeconds': n },
        replyTo: `${R}/reply/v${n}`,
        id: `v${n}`,
        ts: Date.now(),
      });
      const scope = (deviceId: string) => ({ deviceId, topic: `edge/${deviceId}/cmd/set-config` });
      t.match(
        await send(signCommand(KEY, 'set-config', body(21), scope('gate-01'))),
        { ok: true },
        `v2 for gate-01 (required: ${required})`,
      );
      t.match(
        await send(signCommand(KEY, 'set-config', body(22), scope('gate-02'))),
        { ok: false, error: { code: 'unauthorized' } },
        `v2 signed for gate-02 (required: ${required})`,
      );
      const legacy = await send(signCommand(KEY, 'set-config', body(23)));
      if (required)
        t.match(
          legacy,
          { ok: false, error: { code: 'unauthorized', message: /scoped/ } },
          'the contract form refused when v2 is required',
        );
      else t.match(legacy, { ok: true }, 'the contract form still accepted by default');
      const sets = (await link.state()).sets.map((s) => (s as Record<string, unknown>)['mqtt.healthIntervalSeconds']);
      t.same(sets, required ? [21] : [21, 23], 'only the accepted ones changed the config');
    }
  },
);

// A small seeded PRNG (mulberry32) so a failing run can be replayed.
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('1,000 random payloads on R/cmd/# leave the link running and the config unchanged', async (t) => {
  const seed = Number(process.env.FUZZ_SEED ?? 20250101);
  const random = prng(seed);
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
  const { clients, link } = await setup(t);
  const before = (await link.state()).config;
  const names = [
    'ping',
    'get-config',
    'set-config',
    'restart-pipeline',
    'snapshot',
    'list-archives',
    'analyze',
    'probe',
    '',
    'x/y',
    '__proto__',
    'constructor',
    '%00',
    'ping/extra',
    'пинг',
    'ping ',
    'PING',
  ];
  const values = (): unknown =>
    pick<() => unknown>([
      () => null,
      () => random() * 1e6,
      () => -1,
      () => '',
      () => 'x'.repeat(Math.floor(random() * 300)),
      () => [1, 'a', null],
      // Out of range on purpose: a valid set would rightly change the config.
      () => ({ 'cameras[0].fps': random() < 0.5 ? -Math.floor(random() * 100) : 121 + Math.floor(random() * 1000) }),
      () => ({ '__proto__.polluted': 1 }),
      () => true,
      () => ({ nested: { deep: [{}] } }),
    ])();
  const bodies = (): string | Buffer =>
    pick<() => string | Buffer>([
      () => Buffer.from(Array.from({ length: Math.floor(random() * 200) }, () => Math.floor(random() * 256))),
      () => JSON.stringify(values()),
      () =>
        JSON.stringify({
          [pick(['set', 'camera', 'limit', 'file', 'replyTo', 'id', 'ts', 'sig', 'junk'])]: values(),
          replyTo: pick([`${R}/reply/fuzz`, `${R}/status`, '#', 7, undefined]),
        }),
      () => `{"set":{"cameras[0].fps":${Math.floor(random() * 10)}`,
      () => '{"__proto__":{"polluted":true},"set":{"constructor.prototype.x":1}}',
    ])();
  for (let i = 0; i < 1000; i += 1) {
    await clients.v311.raw(`${R}/cmd/${pick(names)}`, bodies());
  }
  await sleep(1000);
  const reply = await clients.v5.command(`${R}/cmd/ping`, {}, 'v5', `${R}/reply`);
  t.match(reply.json, { ok: true, result: { pong: true } }, `still answering (seed ${seed})`);
  const after = await link.state();
  t.equal(link.child.exitCode, null, 'still running');
  t.same(after.config, before, 'config unchanged');
  t.same(after.sets, []);
  t.equal(after.link.connects, 1, 'never disconnected');
});

/**
 * Fuzzed MQTT commands against the real agent: random and mutated command topics and bodies
 * (bad JSON, wrong types, unknown fields, traversal in names, huge and deeply nested bodies,
 * reply topics aimed at the agent's own topics), mostly QoS 0 bursts. Every set-config carries
 * at least one invalid entry, and the commands that restart or spawn things (restart-pipeline,
 * snapshot, probe, analyze) always carry an unknown field, so nothing may change.
 * Expected: no crash, config file and effective config unchanged, pipeline never restarted,
 * every reply an error with a code and a message (bar ping/get-config/list-archives).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Test } from 'tap';
import { AgentProcess, testConfig } from '../../helpers/agentProcess.js';
import { waitFor } from '../../helpers/waitFor.js';
import { Mosquitto } from '../../helpers/mosquitto.js';
import { TestClient } from '../../helpers/mqttClient.js';
import { Prng } from '../lib/prng.js';
import { recordResult } from '../lib/results.js';

const ROOT = 'edge/test-device';
const NAMES = ['ping', 'get-config', 'set-config', 'restart-pipeline', 'snapshot', 'list-archives', 'analyze', 'probe'];
const HEAVY = new Set(['restart-pipeline', 'snapshot', 'probe', 'analyze']);
const BAD_SETS: Array<Record<string, unknown>> = [
  { 'hls.segmentSeconds': 0 },
  { 'no.such.key': 1 },
  { 'cameras[0].fps': 'fast' },
  { 'mqtt.url': 'ftp://example' },
  { 'archive.minFreePercent': 101 },
  { 'cameras[7].id': 'x' },
  { 'http.listen': '0.0.0.0:80' },
  { '__proto__.polluted': true },
  { cameras: 'all' },
];
const STRANGE = [
  '../../etc/passwd',
  '..',
  '',
  ' ',
  '\u0000',
  'cam1/../../x',
  '%2e%2e',
  'a'.repeat(300),
  '\u{1f4a9}',
  'cam1\nx',
  '*',
  '#',
];

function randomValue(rng: Prng, depth = 0): unknown {
  switch (rng.int(0, depth > 2 ? 5 : 7)) {
    case 0:
      return rng.int(-1e9, 1e9);
    case 1:
      return rng.pick([0, -1, 1.5, 1e308, -1e-308, 2 ** 53 + 1]);
    case 2:
      return rng.string(rng.int(0, 40));
    case 3:
      return rng.pick(STRANGE);
    case 4:
      return rng.chance(0.5);
    case 5:
      return null;
    case 6:
      return Array.from({ length: rng.int(0, 4) }, () => randomValue(rng, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: rng.int(0, 4) }, () => [
          rng.pick([
            rng.string(rng.int(1, 12)),
            'camera',
            'limit',
            'file',
            'set',
            'replyTo',
            'id',
            'ts',
            'sig',
            '__proto__',
            'constructor',
          ]),
          randomValue(rng, depth + 1),
        ]),
      );
  }
}

function nested(depth: number): string {
  return `${'{"a":['.repeat(depth)}1${']}'.repeat(depth)}`;
}

/** One fuzzed request: topic, payload and how to send it. */
function fuzzCase(
  rng: Prng,
  replyRoot: string,
  i: number,
): { topic: string; payload: string | Buffer; qos: 0 | 1; responseTopic?: string; name: string } {
  const roll = rng.next();
  const name = roll < 0.55 ? rng.pick(NAMES) : roll < 0.85 ? rng.string(rng.int(0, 30)) : rng.pick(STRANGE);
  // Control characters in a topic make Mosquitto drop the publisher: that tests the broker, not the
  // agent, so topics carry every other character (bodies carry control characters too).
  let topic = `${ROOT}/cmd/${name.replace(/[\u0000-\u001f\u007f-\u009f]/g, '_')}`;
  if (rng.chance(0.08))
    topic = rng.pick([
      `${ROOT}/cmd`,
      `${ROOT}/cmd/ping/extra`,
      `${ROOT}/cmdx/ping`,
      'edge/other-device/cmd/ping',
      `${ROOT}/cmd//`,
      `${ROOT}/cmd/+`,
      `${ROOT}/cmd/#`,
    ]);
  const replyTopic = `${replyRoot}/${i}`;
  const replyTo = rng.chance(0.3)
    ? replyTopic
    : rng.chance(0.1)
      ? rng.pick([`${ROOT}/cmd/ping`, `${ROOT}/status`, `${ROOT}/events`, '#', '', 'a/+/b', 'x'.repeat(2000)])
      : undefined;
  let payload: string | Buffer;
  const kind = rng.int(0, 9);
  if (kind === 0) payload = Buffer.from(Array.from({ length: rng.int(0, 200) }, () => rng.int(0, 255)));
  else if (kind === 1) payload = rng.pick(['', '{', '{"a":', 'null', '[]', '"x"', '1', 'true', '{"set":}', '\u0000{}']);
  else if (kind === 2 && rng.chance(0.2))
    payload = rng.chance(0.5)
      ? nested(rng.int(100, 5000))
      : JSON.stringify({ pad: 'x'.repeat(rng.int(60_000, 70_000)) });
  else {
    const body: Record<string, unknown> = {};
    if (name === 'set-config') {
      const set = Object.fromEntries(
        Array.from({ length: rng.int(0, 3) }, () => [
          rng.pick(['hls.listSize', 'encoder.bitrateKbps', 'archive.maxAgeHours', rng.string(8)]),
          randomValue(rng),
        ]),
      );
      body.set = rng.chance(0.85) ? { ...set, ...rng.pick(BAD_SETS) } : randomValue(rng);
    } else if (name === 'list-archives') {
      if (rng.chance(0.5)) body.limit = randomValue(rng);
      if (rng.chance(0.5)) body.camera = rng.chance(0.5) ? rng.pick(STRANGE) : 'cam1';
    } else if (name === 'analyze' || name === 'snapshot') {
      body.camera = rng.pick([...STRANGE, 'cam1']);
      body.file = rng.pick([
        '../../../etc/passwd',
        '/etc/passwd',
        'cam1/2020-01-01/archive_20200101T000000Z.mp4',
        rng.string(20),
      ]);
    }
    for (let k = rng.int(0, 2); k > 0; k -= 1) body[rng.string(rng.int(1, 10))] = randomValue(rng);
    if (HEAVY.has(name)) body.zzUnknown = 1;
    if (replyTo !== undefined) body.replyTo = rng.chance(0.9) ? replyTo : randomValue(rng);
    if (rng.chance(0.3)) body.id = randomValue(rng);
    if (rng.chance(0.1)) Object.assign(body, { ts: randomValue(rng), sig: rng.string(64, '0123456789abcdef') });
    payload = JSON.stringify(body);
  }
  const v5 = rng.chance(0.15);
  return {
    topic,
    payload,
    qos: replyTo === replyTopic || v5 ? 1 : 0,
    ...(v5 ? { responseTopic: replyTopic } : {}),
    name,
  };
}

export async function fuzzMqtt(t: Test, options: { count: number; mode: 'ci' | 'long'; seed?: number }): Promise<void> {
  const seed = options.seed ?? 20_260_808;
  const rng = new Prng(seed);
  const dir = t.testdir();
  const broker = new Mosquitto({ dir: path.join(dir, 'broker') });
  await broker.start();
  t.teardown(() => broker.stop());
  const agent = AgentProcess.start(dir, testConfig(dir, { mqtt: { url: broker.url, healthIntervalSeconds: 60 } }));
  t.teardown(() => agent.stop());
  const client = await TestClient.connect(broker.url);
  t.teardown(() => client.end());
  const replyRoot = 'fuzz/replies';
  await client.subscribe(`${replyRoot}/#`);
  await agent.waitEvent('archive.finished', 1, 30_000);
  const before = await client.command(`${ROOT}/cmd/get-config`, {}, 'v5', 'fuzz/check');
  const fileBefore = await readFile(path.join(dir, 'config.json'), 'utf8');
  const startsBefore = agent.events('pipeline.started').length;
  const startedAt = Date.now();
  let refusedByClient = 0;
  let expectReplies = 0;
  const cases: Array<ReturnType<typeof fuzzCase>> = [];
  for (let i = 0; i < options.count; i += 1) {
    const c = fuzzCase(rng, replyRoot, i);
    cases.push(c);
    // Wildcards cannot be published (the broker drops the client for a protocol error): a real
    // client never gets such a message through, so they are counted and skipped.
    if (/[+#]/.test(c.topic)) {
      refusedByClient += 1;
      continue;
    }
    try {
      await new Promise<void>((resolve, reject) => {
        const props = c.responseTopic
          ? { properties: { responseTopic: c.responseTopic, correlationData: Buffer.from(String(i)) } }
          : {};
        const timer = setTimeout(
          () =>
            reject(new Error(`no PUBACK for #${i} on ${c.topic.slice(0, 80)} (connected: ${client.client.connected})`)),
          10_000,
        );
        client.client.publish(c.topic, c.payload, { qos: c.qos, ...props }, (error) => {
          clearTimeout(timer);
          if (error) reject(error);
          else resolve();
        });
        if (c.qos === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
    } catch (error) {
      if (!client.client.connected) {
        const log = await readFile(path.join(dir, 'broker', 'mosquitto.log'), 'utf8').catch(() => '');
        t.comment(
          log
            .split('\n')
            .filter((l) => /disconnect|error|Bad|invalid/i.test(l))
            .slice(-5)
            .join('\n'),
        );
        throw error;
      }
      refusedByClient += 1;
    }
    // Every 250: a ping round trip, so the agent is alive and keeping up.
    if (i % 250 === 249) {
      // Under a QoS 0 burst a ping may be refused as "too many commands in progress": ask again.
      const alive = async () => {
        for (let attempt = 0; ; attempt += 1) {
          const reply = await client.command(`${ROOT}/cmd/ping`, {}, 'v5', 'fuzz/check', 20_000);
          if ((reply.json as { ok?: boolean }).ok || attempt >= 20) return reply;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      };
      const pong = await alive().catch((error: Error) => {
        t.comment(
          `no pong after #${i}; agent alive: ${agent.child.exitCode === null}; client connected: ${client.client.connected}`,
        );
        t.comment(
          agent.records
            .filter((r) => r.level !== 'debug' && r.msg !== 'command refused')
            .slice(-15)
            .map((r) => JSON.stringify(r).slice(0, 300))
            .join('\n'),
        );
        throw error;
      });
      if (!(pong.json as { ok?: boolean }).ok) t.fail(`ping after ${i + 1} messages`);
    }
  }
  const sentMs = Date.now() - startedAt;
  for (const c of cases)
    if (
      c.qos === 1 &&
      c.topic.startsWith(`${ROOT}/cmd/`) &&
      !c.topic.slice(ROOT.length + 5).includes('/') &&
      !/[+#]/.test(c.topic)
    )
      expectReplies += 1;
  const settleFrom = Date.now();
  await waitFor('replies to settle', () => Date.now() - settleFrom > 2000, 4000, 100);
  const replies = client.inbox.filter((m) => m.topic.startsWith(`${replyRoot}/`));
  const okReplies = replies.filter((m) => (m.json as { ok?: boolean })?.ok === true);
  const badErrors = replies.filter((m) => {
    const body = m.json as { ok?: boolean; error?: { code?: unknown; message?: unknown } } | undefined;
    if (!body || typeof body !== 'object') return true;
    if (body.ok === true) return false;
    return (
      typeof body.error?.code !== 'string' || typeof body.error?.message !== 'string' || body.error.message.length === 0
    );
  });
  t.equal(agent.child.exitCode, null, `the agent is still running after ${options.count} fuzzed messages`);
  const after = await client.command(`${ROOT}/cmd/get-config`, {}, 'v5', 'fuzz/check');
  t.same(after.json, before.json, 'the effective config is unchanged');
  t.equal(await readFile(path.join(dir, 'config.json'), 'utf8'), fileBefore, 'the config file is unchanged');
  t.equal(agent.events('pipeline.started').length, startsBefore, 'the pipeline never restarted');
  t.same(
    badErrors.map((m) => m.text.slice(0, 120)),
    [],
    `every one of ${replies.length} replies is ok or an error with code and message`,
  );
  const okNames = new Set(okReplies.map((m) => cases[Number(m.topic.split('/').pop())]?.name));
  t.ok(
    [...okNames].every((n) => ['ping', 'get-config', 'list-archives'].includes(String(n))),
    `only harmless commands succeeded (${[...okNames].join(', ') || 'none'})`,
  );
  t.same(
    agent.logs(/uncaught|unhandled/i).map((r) => r.msg),
    [],
    'no uncaught error logged',
  );
  // A reply to a topic with a control character once got the agent dropped by Mosquitto, again after every reconnect.
  t.equal(agent.logs('mqtt disconnected, reconnecting later').length, 0, "the agent's broker link never dropped");
  const codes = new Map<string, number>();
  for (const m of replies) {
    const code = (m.json as { error?: { code?: string } })?.error?.code ?? 'ok';
    codes.set(code, (codes.get(code) ?? 0) + 1);
  }
  await agent.waitEvent('archive.finished', agent.events('archive.finished').length + 1, 15_000);
  t.pass('recording goes on');
  recordResult(
    {
      id: 'j-fuzz-mqtt',
      scenario: 'fuzzed MQTT command topics and bodies (seeded), real agent and broker',
      mode: options.mode,
      tried: `${options.count} messages in ${(sentMs / 1000).toFixed(1)} s (seed ${seed})`,
      lost: 'nothing: no crash, config unchanged, no restart',
      notes: `${replies.length} replies (${expectReplies} QoS 1 requests naming our reply topic): ${[...codes].map(([c, n]) => `${c} ${n}`).join(', ')}; ${refusedByClient} not sendable (wildcards in the topic)`,
    },
    t.passing(),
  );
}

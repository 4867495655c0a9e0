import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import type { AgentConfig } from '../../agent/config/types.js';
import { testConfig } from '../helpers/agentFakes.js';
import { LinkProcess } from '../helpers/linkProcess.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { sleep, TestClient } from '../helpers/mqttClient.js';

const A = 'edge/gate-01';
const USERS = { 'gate-01': 'pass-a', 'gate-02': 'pass-b', backend: 'pass-x' };
// Every device is confined to its own subtree; only the back end sees all.
const ACL = 'pattern readwrite edge/%u/#\n\nuser backend\ntopic readwrite #\n';

async function setup(t: Test) {
  const dir = t.testdir();
  const broker = new Mosquitto({ dir: `${dir}/broker`, tls: true, ws: true, users: USERS, acl: ACL });
  await broker.start();
  t.teardown(() => broker.stop());
  const pki = broker.pki!;
  const tlsOptions = { ca: readFileSync(pki.ca), cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) };
  const config = testConfig({ url: broker.tlsUrl, dataDir: `${dir}/data` });
  config.mqtt = { ...config.mqtt, username: 'gate-01', ca: pki.ca, cert: pki.clientCert, key: pki.clientKey };
  const start = async (over: Partial<AgentConfig['mqtt']> = {}, password = 'pass-a') => {
    const link = await LinkProcess.start(dir, {
      config: { ...config, mqtt: { ...config.mqtt, ...over } },
      password,
      commandKey: null,
      reconnect: { initialMs: 200, maxMs: 1000 },
    });
    t.teardown(() => link.kill());
    return link;
  };
  const client = async (username: keyof typeof USERS, protocolVersion: 4 | 5 = 5) => {
    const c = await TestClient.connect(broker.tlsUrl, {
      username,
      password: USERS[username],
      protocolVersion,
      ...tlsOptions,
    });
    t.teardown(() => c.end());
    return c;
  };
  return { broker, start, client };
}

t.test('TLS with a test CA and client certificate, password and ACL: the back end commands device A', async (t) => {
  const { start, client } = await setup(t);
  const link = await start();
  await link.connected();
  const backend = await client('backend');
  await backend.subscribe(`${A}/status`);
  t.match((await backend.waitFor((m) => m.topic === `${A}/status`)).json, { state: 'online' });
  const reply = await backend.command(`${A}/cmd/ping`, {}, 'v5', `${A}/reply`);
  t.match(reply.json, { ok: true, result: { pong: true } });
});

t.test('device B cannot command device A', async (t) => {
  const { start, client } = await setup(t);
  const link = await start();
  await link.connected();
  // MQTT 5: Mosquitto refuses the publish outright (PUBACK 0x87 not authorised).
  const b5 = await client('gate-02');
  await t.rejects(b5.raw(`${A}/cmd/ping`, JSON.stringify({ replyTo: 'edge/gate-02/reply/0', id: 0 })), { code: 135 });
  // 3.1.1: the publish is acknowledged but silently dropped; A must see nothing of it.
  const b = await client('gate-02', 4);
  await b.subscribe('edge/gate-02/reply/#');
  await b.raw(
    `${A}/cmd/set-config`,
    JSON.stringify({ set: { 'mqtt.healthIntervalSeconds': 5 }, replyTo: 'edge/gate-02/reply/1', id: 1 }),
  );
  await b.raw(`${A}/cmd/ping`, JSON.stringify({ replyTo: 'edge/gate-02/reply/2', id: 2 }));
  await sleep(1500);
  t.same(b.inbox, [], 'no reply reached B');
  t.same((await link.state()).sets, [], 'config unchanged');
  // And B cannot even read A's topics.
  await b.subscribe(`${A}/#`);
  await sleep(300);
  t.same(b.inbox, [], 'no retained status of A delivered to B');
});

t.test('wrong password: the link keeps retrying with backoff and never crashes', async (t) => {
  const { start } = await setup(t);
  const link = await start({}, 'wrong');
  await sleep(2500);
  const state = await link.state();
  t.equal(state.link.connected, false);
  t.equal(state.link.connects, 0);
  t.equal(link.child.exitCode, null);
});

t.test('an unknown CA is refused', async (t) => {
  const { start, broker } = await setup(t);
  const link = await start({ ca: broker.pki!.clientCert });
  await sleep(1500);
  t.equal((await link.state()).link.connected, false);
});

t.test('ws:// with password', async (t) => {
  const { start, broker } = await setup(t);
  const link = await start({ url: broker.wsUrl, ca: null, cert: null, key: null });
  await link.connected();
  t.equal((await link.state()).link.connected, true);
});

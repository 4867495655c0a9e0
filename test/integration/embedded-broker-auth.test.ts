/**
 * Issue 15 item 2: the embedded broker (aedes in the agent's link) lets nobody in without a login,
 * and only the agent publishes under R/ (commands aside). The link runs in a child process as
 * main.ts wires it; the clients are real MQTT.js clients, mosquitto_sub and mosquitto_rr.
 */
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import mqtt from 'mqtt';
import { checkBroker } from '../../agent/doctor/checks/broker.js';
import { technicianCommands } from '../../agent/doctor/checks/embeddedBroker.js';
import { mqttConnect } from '../../agent/doctor/mqttProbe.js';
import { testConfig } from '../helpers/agentFakes.js';
import { LinkProcess } from '../helpers/linkProcess.js';
import { freePort } from '../helpers/mosquitto.js';
import { sleep, TestClient } from '../helpers/mqttClient.js';
import { agentConfig } from '../helpers/config.js';

const R = 'edge/gate-01';
const run = promisify(execFile);

async function start(t: Test, credentialsFolder: Record<string, string> | null = null) {
  const dir = t.testdir(credentialsFolder ? { creds: credentialsFolder } : {});
  const env: Record<string, string> = credentialsFolder ? { CREDENTIALS_DIRECTORY: join(dir, 'creds') } : {};
  const port = await freePort();
  const input = {
    config: testConfig({ url: 'embedded', dataDir: `${dir}/data` }),
    password: null,
    commandKey: null,
    embeddedPort: port,
    env,
  };
  const link = await LinkProcess.start(dir, input);
  t.teardown(() => link.kill());
  await link.connected();
  const url = `mqtt://127.0.0.1:${port}`;
  const technician = () => readFileSync(`${dir}/data/mqtt-technician`, 'utf8').trim();
  return { dir, port, url, link, input, technician };
}

/** Connects as a technician (3.1.1: aedes has no MQTT 5). */
const asTechnician = (url: string, password: string, clientId?: string) =>
  TestClient.connect(url, { protocolVersion: 4, username: 'technician', password, ...(clientId ? { clientId } : {}) });

/** The CONNACK error of a refused login. */
async function refusal(url: string, options: mqtt.IClientOptions): Promise<string> {
  try {
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 3000,
      ...options,
    });
    await client.endAsync(true);
    return 'accepted';
  } catch (error) {
    return (error as Error).message;
  }
}

t.test('a client with a wrong login is refused; one without a login only reads', async (t) => {
  const { url, technician } = await start(t);
  t.match(
    await refusal(url, { username: 'technician', password: 'guess' }),
    /bad user ?name or password/i,
    'wrong password',
  );
  t.match(
    await refusal(url, { username: 'edge-agent', password: technician() }),
    /bad user ?name or password/i,
    "the technician password is not the agent's",
  );
  t.match(
    await refusal(url, { username: 'technician', password: technician(), clientId: 'gate-01' }),
    /identifier rejected/i,
    "nobody takes the agent's client id",
  );
  t.equal(await refusal(url, { username: 'technician', password: technician() }), 'accepted');
});

t.test('a local client without a login reads status but cannot send a command', async (t) => {
  const { url, technician } = await start(t);
  // Subscribed first: any answer to the reader's command would land here.
  const technicianClient = await asTechnician(url, technician());
  t.teardown(() => technicianClient.end());
  await technicianClient.subscribe('replies/#');
  const reader = await TestClient.connect(url, { protocolVersion: 4 });
  t.teardown(() => reader.end());
  await reader.subscribe(`${R}/#`);
  t.match(
    (await reader.waitFor((m) => m.topic === `${R}/status`)).json,
    { state: 'online' },
    'a plain mosquitto_sub works on a fresh board',
  );
  const closed = new Promise<void>((resolve) => reader.client.once('close', () => resolve()));
  reader.client.publish(`${R}/cmd/ping`, JSON.stringify({ replyTo: 'replies/reader', id: 'r1' }), { qos: 1 });
  await closed;
  t.pass('the command publish closed its connection');
  const pong = await technicianClient.command(`${R}/cmd/ping`, {}, 'v311', `replies/${R}`);
  t.match(pong.json, { ok: true }, 'the agent answers a technician (so it would have answered the reader)');
  t.same(
    technicianClient.inbox.filter((m) => m.topic === 'replies/reader'),
    [],
    "the reader's ping never reached the agent",
  );
});

t.test('a technician sends R/cmd/ping and gets the reply; reads status', async (t) => {
  const { url, technician } = await start(t);
  const client = await asTechnician(url, technician());
  t.teardown(() => client.end());
  await client.subscribe(`${R}/status`);
  t.match((await client.waitFor((m) => m.topic === `${R}/status`)).json, { state: 'online' });
  const reply = await client.command(`${R}/cmd/ping`, {}, 'v311', `replies/${R}`);
  t.match(reply.json, { ok: true, result: { pong: true } });
});

t.test('a technician cannot publish R/status, R/events or a retained command', async (t) => {
  const { url, technician } = await start(t);
  const watcher = await asTechnician(url, technician());
  t.teardown(() => watcher.end());
  await watcher.subscribe(`${R}/#`);
  await watcher.waitFor((m) => m.topic === `${R}/status`);
  for (const [topic, retain] of [
    [`${R}/status`, true],
    [`${R}/events`, false],
    [`${R}/health`, true],
    [`${R}/cmd/ping`, true],
    ['$SYS/x', false],
  ] as const) {
    const intruder = await asTechnician(url, technician());
    const closed = new Promise<void>((resolve) => intruder.client.once('close', () => resolve()));
    // aedes answers a refused publish by closing the connection (3.1.1 has no reason code for it).
    intruder.client.publish(topic, JSON.stringify({ state: 'offline', type: 'camera.lost', forged: true }), {
      qos: 1,
      retain,
    });
    await closed;
    await intruder.end();
  }
  await sleep(300);
  t.same(
    watcher.inbox.filter((m) => m.text.includes('forged')),
    [],
    'no forged message reached a subscriber',
  );
  const late = await asTechnician(url, technician());
  t.teardown(() => late.end());
  await late.subscribe(`${R}/status`);
  t.match(
    (await late.waitFor((m) => m.topic === `${R}/status`)).json,
    { state: 'online', version: String },
    "the retained status is still the agent's",
  );
  t.notOk(
    late.inbox.some((m) => m.topic.startsWith(`${R}/cmd/`)),
    'no retained command stored',
  );
});

t.test('the agent keeps its login across restarts; both secrets are 0600', async (t) => {
  const { dir, url, link, input, technician } = await start(t);
  const agentFile = join(dir, 'data/broker-credentials.json');
  const first = readFileSync(agentFile, 'utf8');
  const techFirst = technician();
  t.match(JSON.parse(first), { username: 'edge-agent', password: /^[A-Za-z0-9_-]{43}$/ });
  t.equal(statSync(agentFile).mode & 0o777, 0o600);
  t.equal(statSync(join(dir, 'data/mqtt-technician')).mode & 0o777, 0o600);
  t.notOk(
    JSON.stringify(await link.state()).includes(JSON.parse(first).password),
    'the password is not in the link state',
  );
  await link.stop();
  const again = await LinkProcess.start(dir, input);
  t.teardown(() => again.kill());
  await again.connected();
  t.equal(readFileSync(agentFile, 'utf8'), first, 'same stored login');
  t.equal(technician(), techFirst, 'same technician password');
  const client = await asTechnician(url, technician());
  t.teardown(() => client.end());
  t.match((await client.command(`${R}/cmd/ping`, {}, 'v311', `replies/${R}`)).json, { ok: true });
});

t.test("the technicians' password from the credentials folder ($CREDENTIALS_DIRECTORY/mqtt-technician)", async (t) => {
  const { dir, url } = await start(t, { 'mqtt-technician': 'a-password-set-by-the-installer\n' });
  t.equal(await refusal(url, { username: 'technician', password: 'a-password-set-by-the-installer' }), 'accepted');
  t.throws(() => statSync(join(dir, 'data/mqtt-technician')), 'no second password made');
});

t.test("the doctor's mosquitto_sub and mosquitto_rr lines work as printed", async (t) => {
  const { dir, port, technician } = await start(t);
  const file = join(dir, 'data/mqtt-technician');
  const config = agentConfig({ device: { id: 'gate-01' }, dataDir: join(dir, 'data') });
  const line = technicianCommands({ config } as never, file);
  t.notOk(line.includes(technician()), 'the secret itself is not printed');
  // Run them here: this port instead of 1883, and no sudo (the test owns the file).
  const [read, ask] = line.split('; ').map((part) =>
    part
      .replace(/^\w+: /, '')
      .replace('-p 1883', `-p ${port}`)
      .replace('sudo cat', 'cat'),
  );
  const sub = await run('sh', ['-c', `${read!} -C 1 -W 5`]);
  t.match(sub.stdout, new RegExp(`^${R}/\\w+`), 'mosquitto_sub reads R/#');
  const rr = await run('sh', ['-c', `${ask!} -W 5`]);
  t.match(
    JSON.parse(rr.stdout),
    { ok: true, result: { pong: true }, id: 'doctor' },
    'mosquitto_rr gets the ping reply',
  );
});

t.test("the doctor's broker check logs in to the running broker as a technician (real MQTT.js probe)", async (t) => {
  const { dir, port } = await start(t);
  const config = agentConfig({ device: { id: 'gate-01' }, dataDir: join(dir, 'data') });
  // The doctor dials 1883; this broker listens on a free port.
  const probe = (c: typeof config, credentials: Parameters<typeof mqttConnect>[1], ms: number) =>
    mqttConnect({ ...c, mqtt: { ...c.mqtt, url: c.mqtt.url.replace(':1883', `:${port}`) } }, credentials, ms);
  const ctx = {
    config,
    credentials: null,
    credentialsError: null,
    credentialsDir: null,
    mqttConnect: probe,
    timeoutMs: 3000,
  } as never;
  t.match(await checkBroker(ctx), { status: 'ok', detail: /accepted the technician login/ });
  writeFileSync(join(dir, 'data/mqtt-technician'), 'a-changed-password-the-agent-has-not-read\n');
  t.match(await checkBroker(ctx), { status: 'fail', detail: /refused the technician login/ });
});

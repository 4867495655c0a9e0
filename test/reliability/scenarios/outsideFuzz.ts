/**
 * Issue 15 item 4: mutations made by an outside fuzzer (radamsa, else zzuf: lib/mutator.ts) of
 * valid inputs, against the real agent and broker: MQTT command bodies, config files through
 * `config check`, and raw HTTP requests. Expected: no crash; no config change unless a
 * `set-config` was answered ok (a mutation may make a valid change); every MQTT reply ok or an
 * error with a code and a message; every HTTP request answered with a status (or closed, for
 * what is not HTTP), never a 500, nothing outside the served folders; recording goes on.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import type { Test } from 'tap';
import { AgentProcess, testConfig } from '../../helpers/agentProcess.js';
import { Mosquitto } from '../../helpers/mosquitto.js';
import { TestClient } from '../../helpers/mqttClient.js';
import type { Mutator } from '../lib/mutator.js';
import { recordResult } from '../lib/results.js';
import { raw } from './httpInput.js';
import { configCheck } from './setConfigKill.js';

const ROOT = 'edge/test-device';

/** Valid command bodies; each names a reply topic so the answer can be judged. */
function commandSamples(): Array<[string, Record<string, unknown>]> {
  return [
    ['ping', {}],
    ['get-config', {}],
    ['list-archives', { camera: 'cam1', limit: 3 }],
    // A no-op and an invalid change: a mutation that turns either into a valid change may apply it.
    ['set-config', { set: { 'hls.listSize': 4 } }],
    ['set-config', { set: { 'archive.maxAgeHours': 0, 'cameras[0].fps': 15 } }],
    ['analyze', { camera: 'cam1', file: 'cam1/2020-01-01/archive_20200101T000000Z.mp4' }],
  ];
}

interface Counts {
  sent: number;
  replies: Map<string, number>;
  bad: string[];
  setConfigOk: number;
}

async function fuzzCommands(
  t: Test,
  client: TestClient,
  mutator: Mutator,
  count: number,
  seed: number,
): Promise<Counts> {
  const samples = commandSamples();
  const counts: Counts = { sent: 0, replies: new Map(), bad: [], setConfigOk: 0 };
  const per = Math.ceil(count / samples.length);
  const sentNames = new Map<string, string>();
  for (const [k, [name, body]] of samples.entries()) {
    const sample = Buffer.from(JSON.stringify({ ...body, replyTo: `fuzz/r/${k}`, id: `${k}` }));
    for (const [i, payload] of mutator.mutate(sample, per, seed + k * 1000).entries()) {
      sentNames.set(`${k}`, name);
      await client.client.publishAsync(`${ROOT}/cmd/${name}`, payload, { qos: 1 });
      counts.sent += 1;
      // Every 50: a ping round trip, so the agent is alive and keeping up.
      if (counts.sent % 50 === 0) {
        const pong = await client.command(`${ROOT}/cmd/ping`, {}, 'v5', 'fuzz/check', 20_000);
        if (!(pong.json as { ok?: boolean }).ok) t.fail(`ping after ${counts.sent} (${name} #${i})`);
      }
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 2000));
  // Replies may go wherever the mutated replyTo points (never under R/: the agent refuses that).
  for (const m of client.inbox) {
    if (m.topic.startsWith(`${ROOT}/`) || m.topic.startsWith('fuzz/check')) continue;
    const body = m.json as { ok?: unknown; error?: { code?: unknown; message?: unknown }; id?: unknown } | undefined;
    const good =
      body !== null &&
      typeof body === 'object' &&
      (body.ok === true ||
        (body.ok === false &&
          typeof body.error?.code === 'string' &&
          typeof body.error.message === 'string' &&
          body.error.message !== ''));
    if (!good) {
      counts.bad.push(`${m.topic.slice(0, 60)}: ${m.text.slice(0, 120)}`);
      continue;
    }
    const code = body.ok === true ? 'ok' : String(body.error!.code);
    counts.replies.set(code, (counts.replies.get(code) ?? 0) + 1);
    if (
      body.ok === true &&
      m.topic.startsWith('fuzz/r/') &&
      sentNames.get(m.topic.split('/')[2] ?? '') === 'set-config'
    )
      counts.setConfigOk += 1;
  }
  return counts;
}

async function fuzzConfigFiles(dir: string, mutator: Mutator, count: number, seed: number) {
  const file = path.join(dir, 'mutated.json');
  const sample = Buffer.from(JSON.stringify(testConfig(dir), null, 2));
  let valid = 0;
  let invalid = 0;
  const crashes: string[] = [];
  const unclear: string[] = [];
  for (const [i, text] of mutator.mutate(sample, count, seed).entries()) {
    await writeFile(file, text);
    try {
      const { code, out } = await configCheck(file);
      if (code === 0) valid += 1;
      else if (code === 2) {
        invalid += 1;
        for (const line of out.trim().split('\n'))
          if (line.trim() === '' || /undefined|\[object Object\]|NaN/.test(line))
            unclear.push(`#${i}: ${line.slice(0, 160)}`);
      } else crashes.push(`#${i}: exit ${code}`);
    } catch (error) {
      crashes.push(`#${i}: threw ${(error as Error).message.slice(0, 160)}`);
    }
    const after = await readFile(file);
    if (!after.equals(text)) crashes.push(`#${i}: config check changed the file it checked`);
  }
  return { valid, invalid, crashes, unclear };
}

/**
 * Sends one request and ends the sending side (a cut request gets the server's answer to the
 * end of input, not its header timeout); resolves at the end of the response head, or the close.
 */
function ask(
  port: number,
  request: Buffer,
  timeoutMs = 5000,
): Promise<{ status: number; text: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    let idle: NodeJS.Timeout | undefined;
    const done = (timedOut: boolean) => {
      clearTimeout(timer);
      clearTimeout(idle);
      socket.destroy();
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? 0), text: data, timedOut });
    };
    const timer = setTimeout(() => done(data === ''), timeoutMs);
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      const head = data.indexOf('\r\n\r\n');
      if (head < 0) return;
      // The head and up to 2 KB of body are enough to judge; keep-alive would hold the socket open.
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(data.slice(0, head))?.[1] ?? NaN);
      if (data.length - head - 4 >= Math.min(Number.isNaN(length) ? 2048 : length, 2048)) done(false);
      else {
        clearTimeout(idle);
        idle = setTimeout(() => done(false), 300);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => done(false));
    socket.end(request);
  });
}

async function fuzzHttp(port: number, archive: string, mutator: Mutator, count: number, seed: number) {
  const get = (target: string, headers = '') =>
    `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${headers}\r\n`;
  const samples = [
    get('/api/status'),
    get('/api/archives?camera=cam1&limit=2'),
    get('/healthz?camera=cam1'),
    get(`/archives/${archive}`, 'Range: bytes=0-99\r\n'),
    get('/hls/cam1/index.m3u8'),
  ];
  const statuses = new Map<number, number>();
  const problems: string[] = [];
  const per = Math.ceil(count / samples.length);
  for (const [k, sample] of samples.entries()) {
    for (const request of mutator.mutate(Buffer.from(sample), per, seed + k * 1000)) {
      const { status, text, timedOut } = await ask(port, request);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (timedOut) problems.push(`no answer to ${JSON.stringify(request.toString('latin1').slice(0, 60))}`);
      if (status >= 500 && status !== 503)
        problems.push(`${status} for ${JSON.stringify(request.toString('latin1').slice(0, 60))}`);
      if (/TOP-SECRET-OUTSIDE|root:x:0:0/.test(text))
        problems.push(`leak for ${JSON.stringify(request.toString('latin1').slice(0, 60))}`);
    }
  }
  return { sent: per * samples.length, statuses, problems };
}

/** The scenario: one agent, the three kinds of input in turn, then the checks. */
export async function outsideFuzz(
  t: Test,
  mutator: Mutator,
  options: { mqtt: number; config: number; http: number; mode: 'ci' | 'long'; seed?: number },
): Promise<void> {
  const seed = options.seed ?? 15_004;
  const t0 = Date.now();
  const dir = t.testdir({ 'secret.txt': 'TOP-SECRET-OUTSIDE' });
  const broker = new Mosquitto({ dir: path.join(dir, 'broker') });
  await broker.start();
  t.teardown(() => broker.stop());
  const agent = AgentProcess.start(dir, testConfig(dir, { mqtt: { url: broker.url, healthIntervalSeconds: 60 } }));
  t.teardown(() => agent.stop());
  const [listening] = await agent.waitLog('http listening', 1, 30_000);
  const [finished] = await agent.waitEvent('archive.finished', 1, 30_000);
  const client = await TestClient.connect(broker.url);
  t.teardown(() => client.end());
  await client.subscribe('#');
  const before = await client.command(`${ROOT}/cmd/get-config`, {}, 'v5', 'fuzz/check');
  const fileBefore = await readFile(path.join(dir, 'config.json'), 'utf8');
  const startsBefore = agent.events('pipeline.started').length;
  const started = Date.now();

  const mqtt = await fuzzCommands(t, client, mutator, options.mqtt, seed);
  const t1 = Date.now();
  const config = await fuzzConfigFiles(dir, mutator, options.config, seed + 7);
  const t2 = Date.now();
  const http = await fuzzHttp(Number(listening!.port), finished!.file, mutator, options.http, seed + 13);
  const phases = `start ${((started - t0) / 1000).toFixed(1)} s, MQTT ${((t1 - started) / 1000).toFixed(1)} s, config ${((t2 - t1) / 1000).toFixed(1)} s, HTTP ${((Date.now() - t2) / 1000).toFixed(1)} s`;
  t.comment(phases);
  const seconds = (Date.now() - started) / 1000;

  t.equal(agent.child.exitCode, null, 'the agent is still running');
  t.same(
    mqtt.bad,
    [],
    `every one of ${[...mqtt.replies.values()].reduce((a, b) => a + b, 0)} MQTT replies is ok or an error with a code and a message`,
  );
  const after = await client.command(`${ROOT}/cmd/get-config`, {}, 'v5', 'fuzz/check');
  const configAfter = await readFile(path.join(dir, 'config.json'), 'utf8');
  const unchanged = JSON.stringify(after.json) === JSON.stringify(before.json) && configAfter === fileBefore;
  // A mutation can make a valid change (4 → 5); a change with no set-config answered ok cannot happen.
  if (unchanged)
    t.equal(
      agent.events('pipeline.started').length,
      startsBefore,
      'config unchanged, and the pipeline never restarted',
    );
  else t.ok(mqtt.setConfigOk > 0, 'the config changed only through a set-config that was answered ok');
  t.same(config.crashes, [], `config check never threw on ${options.config} mutated files`);
  t.same(config.unclear, [], 'every problem line of config check is a sentence');
  t.same(http.problems, [], `every one of ${http.sent} mutated HTTP requests answered (no 500, nothing leaked)`);
  t.equal(
    (await raw(Number(listening!.port), 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'))
      .status,
    200,
    '/healthz 200 after',
  );
  t.same(
    agent.logs(/uncaught|unhandled/i).map((r) => r.msg),
    [],
    'no uncaught error logged',
  );
  await agent.waitEvent('archive.finished', agent.events('archive.finished').length + 1, 15_000);
  t.pass('recording goes on');
  const list = (m: Map<string | number, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k || 'closed'} ${n}`)
      .join(', ');
  recordResult(
    {
      id: 'm-outside-fuzz',
      scenario: `outside fuzzer (${mutator.version}) mutating valid MQTT command bodies, config files and HTTP requests, real agent and broker`,
      mode: options.mode,
      tried: `${mqtt.sent} MQTT + ${options.config} config + ${http.sent} HTTP mutations in ${seconds.toFixed(1)} s (seed ${seed})`,
      lost: unchanged
        ? 'nothing: no crash, config unchanged, recording went on'
        : 'nothing: no crash; config changed by a valid mutated set-config only',
      notes: `MQTT replies: ${list(mqtt.replies)} (${mqtt.setConfigOk} set-config ok: ${unchanged ? 'no-op' : 'changed'}; the rest unparseable, no reply topic left); config check: ${config.invalid} refused (exit 2), ${config.valid} valid; HTTP: ${list(http.statuses)}`,
    },
    t.passing(),
  );
}

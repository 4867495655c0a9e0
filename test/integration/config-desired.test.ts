/**
 * R/config/desired → R/config/reported with the real agent and real Mosquitto: an offline board
 * catches up, a stale version changes nothing, a failing document is reverted once (its retained
 * re-delivery does not loop), random documents only end applied, rejected or reverted, and the
 * session number in R/status grows at every connect and survives restarts.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import type { ReportedConfigMessage, StatusMessage } from '../../agent/contract/messages.js';
import { AgentProcess, testConfig } from '../helpers/agentProcess.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqttClient.js';
import { randomSet } from '../helpers/randomDesired.js';
import { Prng } from '../reliability/lib/prng.js';

const ROOT = 'edge/test-device';
const GATE_SECONDS = 4;

t.test('desired/reported over the real broker', async (t) => {
  const dir = t.testdir();
  const broker = new Mosquitto({ dir: path.join(dir, 'broker') });
  await broker.start();
  t.teardown(() => broker.stop());
  const backEnd = await TestClient.connect(broker.url);
  t.teardown(() => backEnd.end());
  await backEnd.subscribe(`${ROOT}/config/reported`);
  await backEnd.subscribe(`${ROOT}/status`);
  const configFile = path.join(dir, 'config.json');
  const desire = (version: number, set: Record<string, unknown>) =>
    backEnd.client.publishAsync(`${ROOT}/config/desired`, JSON.stringify({ version, set }), { qos: 1, retain: true });
  let seen = 0;
  // The next report after the ones already looked at (retained re-sends included).
  const nextReport = async (timeoutMs = (GATE_SECONDS + 30) * 1000): Promise<ReportedConfigMessage> => {
    const skip = seen;
    const found = await backEnd.waitFor(
      (m) => m.topic === `${ROOT}/config/reported` && backEnd.on(`${ROOT}/config/reported`).indexOf(m) >= skip,
      timeoutMs,
    );
    seen = backEnd.on(`${ROOT}/config/reported`).indexOf(found) + 1;
    return found.json as ReportedConfigMessage;
  };
  const reportFor = async (version: number): Promise<ReportedConfigMessage> => {
    for (;;) {
      const report = await nextReport();
      if (report.version === version) return report;
    }
  };
  const onlineSessions = () =>
    backEnd
      .on(`${ROOT}/status`)
      .map((m) => m.json as StatusMessage)
      .filter((s) => s.state === 'online')
      .map((s) => s.session);

  // The board is offline (not running) when the back end writes its first desired document.
  await desire(1, { 'encoder.bitrateKbps': 350 });
  const env = { EDGE_AGENT_TRUST_ENCODERS: '1' };
  // unsignedSensitiveChanges: the failing document below moves the broker, which since issue 15 only
  // a config file that opts into the old behaviour lets an unsigned document do.
  let agent = AgentProcess.start(
    dir,
    testConfig(dir, {
      mqtt: { url: broker.url, configGateSeconds: GATE_SECONDS, unsignedSensitiveChanges: true },
      encoder: { prefer: ['libx264'], bitrateKbps: 400 },
    }),
    env,
  );
  // Restarts keep the file the agent committed.
  const start = () => new AgentProcess(configFile, [], env);
  t.teardown(() => agent.stop());

  await t.test('an offline board applies the latest desired document when it connects', async (t) => {
    const report = await reportFor(1);
    t.match(
      report,
      { version: 1, status: 'applied', code: 200, config: { encoder: { bitrateKbps: 350 } }, ts: String },
      'reported applied',
    );
    t.match(JSON.parse(await readFile(configFile, 'utf8')), { encoder: { bitrateKbps: 350 } }, 'committed to the file');
  });

  await t.test('sessions grow at every connect and survive a restart', async (t) => {
    const first = onlineSessions().at(-1)!;
    t.ok(Number.isInteger(first) && first >= 1, `online carries session ${first}`);
    await agent.stop();
    await desire(2, { 'hls.listSize': 5 });
    const offline = backEnd
      .on(`${ROOT}/status`)
      .map((m) => m.json as StatusMessage)
      .filter((s) => s.state === 'offline')
      .at(-1);
    t.equal(offline?.session, first, 'the clean stop names the session it ends');
    agent = start();
    const report = await reportFor(2);
    t.match(
      report,
      { version: 2, status: 'applied' },
      'the document published while the board was off is applied at reconnect',
    );
    const second = onlineSessions().at(-1)!;
    t.ok(second > first, `the session after the restart (${second}) is above the one before (${first})`);
    agent.child.kill('SIGKILL');
    await agent.exited;
    const will = await backEnd.waitFor(
      (m) =>
        m.topic === `${ROOT}/status` &&
        (m.json as StatusMessage).state === 'offline' &&
        (m.json as StatusMessage).session === second,
      90_000,
    );
    t.ok(will, 'the will carries the session of the connection it belongs to');
    agent = start();
    await backEnd.waitFor(
      (m) =>
        m.topic === `${ROOT}/status` &&
        (m.json as StatusMessage).state === 'online' &&
        (m.json as StatusMessage).session > second,
      30_000,
    );
    t.pass('a newer online follows the will');
  });

  await t.test('a version at or below the applied one is stale and changes nothing', async (t) => {
    const before = await readFile(configFile, 'utf8');
    await desire(1, { 'encoder.bitrateKbps': 999 });
    const report = await reportFor(1);
    t.match(
      report,
      { version: 1, status: 'stale', code: 409, config: { encoder: { bitrateKbps: 350 } } },
      'stale, effective config unchanged',
    );
    t.equal(await readFile(configFile, 'utf8'), before, 'the file is unchanged');
  });

  await t.test('a failing document is reverted once, even though the broker re-delivers it', async (t) => {
    const before = await readFile(configFile, 'utf8');
    const applying = agent.logs('config change applying').length;
    await desire(3, { 'mqtt.url': 'mqtt://127.0.0.1:1' });
    const report = await reportFor(3);
    t.match(
      report,
      { version: 3, status: 'reverted', code: 500, message: /mqtt not connected/ },
      'reported reverted with the reason',
    );
    t.equal(await readFile(configFile, 'utf8'), before, 'the file is unchanged');
    // The revert reconnects, so the broker re-delivers v3: it must be recognised, not re-applied.
    await agent.waitLog('desired config already handled', 1, 30_000);
    t.equal(agent.logs('config change applying').length, applying + 1, 'applied once only');
  });

  await t.test('local-only keys and the remote floors are refused, nothing changed (issue 15)', async (t) => {
    const before = await readFile(configFile, 'utf8');
    await desire(4, { 'mqtt.allowInsecure': true });
    t.match(await reportFor(4), {
      version: 4,
      status: 'rejected',
      code: 400,
      message: /mqtt\.allowInsecure can only be changed in the config file/,
    });
    await desire(5, { 'archive.minFreePercent': 0 });
    t.match(await reportFor(5), {
      version: 5,
      status: 'rejected',
      code: 400,
      message: /archive\.minFreePercent must be at least 5 when set over mqtt/,
    });
    t.equal(await readFile(configFile, 'utf8'), before, 'the file is unchanged');
  });

  await t.test('random desired documents end applied, rejected or reverted, and the agent stays up', async (t) => {
    const rng = new Prng(77);
    const statuses: Record<string, number> = {};
    const wrong: string[] = [];
    for (let version = 10; version < 40; version += 1) {
      const { set, expect } = randomSet(rng, [['cameras[0].source', 'v4l2:/dev/video-none']]);
      await desire(version, set);
      const report = await reportFor(version);
      statuses[report.status] = (statuses[report.status] ?? 0) + 1;
      const predicted = { valid: 'applied', invalid: 'rejected', brick: 'reverted' }[expect];
      if (report.status !== predicted)
        wrong.push(`v${version} ${JSON.stringify(set)}: ${report.status} ${report.message}`);
    }
    t.same(wrong, [], `every document ended as predicted: ${JSON.stringify(statuses)}`);
    t.equal(agent.child.exitCode, null, 'the agent is still running');
    const ping = await backEnd.command(`${ROOT}/cmd/ping`, {}, 'v5', 'replies/p');
    t.match(ping.json, { ok: true }, 'and answering');
  });
});

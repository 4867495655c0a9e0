/**
 * Issue 15, end to end with the real agent and Mosquitto and the default config (no command key):
 * one unsigned set-config pointed hls.dir at dataDir and the HLS reset emptied it; others sent the
 * Gemini key or broker password elsewhere, or read local files through a file: camera. Each is
 * now refused with local_only, the running config, the file and dataDir untouched; an open key
 * still changes; an IP camera's password shows nowhere in get-config, /api/status, R/health,
 * R/events or the log.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { AgentProcess, testConfig } from '../helpers/agentProcess.js';
import { freePort, Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqttClient.js';

const ROOT = 'edge/test-device';

t.test(
  'without a command key, an unsigned set-config cannot redirect the board, its secrets or its folders',
  async (t) => {
    const dir = t.testdir();
    const broker = new Mosquitto({ dir: path.join(dir, 'broker') });
    await broker.start();
    t.teardown(() => broker.stop());
    const camera = 'rtsp://admin:camsecret@127.0.0.1:1/live?token=tok123';
    const httpPort = await freePort();
    const config = testConfig(dir, {
      mqtt: { url: broker.url, healthIntervalSeconds: 2 },
      encoder: { prefer: ['libx264'], bitrateKbps: 400 },
      http: { listen: `127.0.0.1:${httpPort}` },
    });
    config.cameras = [
      ...(config.cameras as object[]),
      { id: 'ipcam', source: camera, width: 320, height: 240, fps: 15 },
    ];
    const agent = AgentProcess.start(dir, config, { EDGE_AGENT_TRUST_ENCODERS: '1' });
    t.teardown(() => agent.stop());
    const client = await TestClient.connect(broker.url);
    t.teardown(() => client.end());
    await client.subscribe(`${ROOT}/#`);
    await client.waitFor(
      (m) => m.topic === `${ROOT}/status` && (m.json as { state?: string }).state === 'online',
      30_000,
    );
    await agent.waitEvent('pipeline.started', 1, 30_000);
    const configFile = path.join(dir, 'config.json');
    const before = readFileSync(configFile, 'utf8');
    const dataDir = path.join(dir, 'data');
    const setConfig = async (set: Record<string, unknown>) =>
      (await client.command(`${ROOT}/cmd/set-config`, { set }, 'v5', 'replies/set', 30_000)).json as {
        ok: boolean;
        error?: { code: string; message: string };
      };

    for (const set of [
      { 'hls.dir': dataDir },
      { 'analysis.baseUrl': 'http://collector.example' },
      { 'mqtt.url': 'mqtt://collector.example:1883' },
      { 'cameras[0].source': `file://${configFile}` },
      { 'http.listen': '0.0.0.0:8080' },
    ]) {
      const reply = await setConfig(set);
      t.match(
        reply,
        { ok: false, error: { code: 'local_only', message: /config file or with --set/ } },
        `${Object.keys(set)[0]} refused`,
      );
    }
    t.equal(readFileSync(configFile, 'utf8'), before, 'the config file is untouched');
    t.ok(existsSync(path.join(dataDir, 'agent.db')), 'dataDir still holds the store');
    // The IP camera is dead from the start: once it is known lost, the change's health gate does
    // not hold its failure against the change.
    await client.waitFor(
      (m) => m.topic === `${ROOT}/events` && (m.json as { type?: string }).type === 'camera.lost',
      30_000,
    );
    t.match(await setConfig({ 'hls.listSize': 5 }), { ok: true }, 'an allow-listed key still changes');

    const shown = (await client.command(`${ROOT}/cmd/get-config`, {}, 'v5', 'replies/get')).json;
    await client.waitFor((m) => m.topic === `${ROOT}/health` && JSON.stringify(m.json).includes('ipcam'), 30_000);
    const apiStatus = await (await fetch(`http://127.0.0.1:${httpPort}/api/status`)).json();
    const everything = JSON.stringify([shown, apiStatus, client.inbox.map((m) => m.json)]);
    t.notMatch(
      everything,
      /camsecret|tok123/,
      'no camera secret in get-config, /api/status, R/config, R/health or R/events',
    );
    t.match(everything, /rtsp:\/\/admin:\[redacted\]@127\.0\.0\.1:1\/live\?token=\[redacted\]/);
    t.notMatch(agent.records.map((r) => JSON.stringify(r)).join('\n'), /camsecret|tok123/, 'nor in the log');
  },
);

/**
 * kill -9 during a config change (README "Config over MQTT"): killed in step 4, before step 5
 * wrote the file, the agent starts again on the last committed config.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { AgentProcess, testConfig } from '../helpers/agentProcess.js';
import { waitFor } from '../helpers/waitFor.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqttClient.js';

const ROOT = 'edge/test-device';

t.test('kill -9 in the middle of a change', async (t) => {
  const dir = t.testdir();
  const broker = new Mosquitto({ dir: path.join(dir, 'broker') });
  await broker.start();
  t.teardown(() => broker.stop());
  const client = await TestClient.connect(broker.url);
  t.teardown(() => client.end());
  const configFile = path.join(dir, 'config.json');
  // A command sent before the agent has subscribed is lost (not retained): ask until answered.
  const answering = () =>
    waitFor(
      'the agent answering ping',
      () =>
        client.command(`${ROOT}/cmd/ping`, {}, 'v5', 'replies/p', 1000).then(
          () => true,
          () => false,
        ),
      30_000,
    );
  const env = { EDGE_AGENT_TRUST_ENCODERS: '1' };
  // A long gate: the kill must land while the change is still being checked.
  let agent = AgentProcess.start(
    dir,
    testConfig(dir, {
      mqtt: { url: broker.url, configGateSeconds: 120 },
      encoder: { prefer: ['libx264'], bitrateKbps: 400 },
    }),
    env,
  );
  t.teardown(() => agent.stop());
  await answering();
  const committed = await readFile(configFile, 'utf8');

  await client.raw(
    `${ROOT}/cmd/set-config`,
    JSON.stringify({ set: { 'cameras[0].source': 'v4l2:/dev/video-none', 'encoder.bitrateKbps': 300 } }),
  );
  await agent.waitLog('config change applying');
  // Step 3 has started the new camera; the gate (step 4) cannot pass, so step 5 has not run.
  await agent.waitEvent('pipeline.restarted');
  agent.child.kill('SIGKILL');
  await agent.exited;
  t.equal(await readFile(configFile, 'utf8'), committed, 'the file still holds the last committed config');

  agent = new AgentProcess(configFile, [], env);
  await answering();
  const reply = await client.command(`${ROOT}/cmd/get-config`, {}, 'v5', 'replies/g', 30_000);
  t.match(
    reply.json,
    { ok: true, result: { cameras: [{ id: 'cam1', source: 'test' }], encoder: { bitrateKbps: 400 } } },
    'the agent runs the committed config',
  );
  const started = await agent.waitEvent('pipeline.started');
  t.match(started[0], { camera: 'cam1', source: /test pattern/ }, 'and records from the committed camera');
});

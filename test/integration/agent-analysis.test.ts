/**
 * The real agent with analysis on: finished archives go through the proxy, the (fake) Gemini
 * API and the durable outbox to R/analysis, once each; list-archives then says analysed.
 */
import path from 'node:path';
import t from 'tap';
import { AgentProcess, testConfig } from '../helpers/agentProcess.js';
import { FakeGemini } from '../helpers/fakeGemini.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqttClient.js';

t.test('archives are analysed and the results reach R/analysis', async (t) => {
  const dir = t.testdir();
  const gemini = await new FakeGemini().start();
  t.teardown(() => gemini.close());
  const broker = new Mosquitto({ dir: path.join(dir, 'broker') });
  await broker.start();
  t.teardown(() => broker.stop());
  const root = 'edge/test-device';
  const watcher = await TestClient.connect(broker.url, { protocolVersion: 5 });
  t.teardown(() => watcher.end());
  await watcher.subscribe(`${root}/analysis`);

  const config = testConfig(dir, {
    mqtt: { url: broker.url },
    analysis: { enabled: true, baseUrl: gemini.url, maxPerDay: 20 },
  });
  const agent = AgentProcess.start(dir, config, { GEMINI_API_KEY: gemini.apiKey });
  t.teardown(() => agent.stop());

  const result = await watcher.waitFor((m) => m.topic === `${root}/analysis`, 60_000);
  t.match(result.json, {
    camera: 'cam1',
    archive: /^cam1\/\d{4}-\d{2}-\d{2}\/archive_\d{8}T\d{6}Z\.mp4$/,
    start: String,
    end: String,
    model: String,
    summary: /person/,
    events: [{ label: 'person', severity: 'info' }],
    ts: String,
  }, 'the contract payload');
  t.same(gemini.problems, [], 'the fake API saw well-formed requests (real MP4 uploads, the schema, the key)');
  t.ok(gemini.counts.deletes >= 1, 'uploaded files are deleted');

  const client = await TestClient.connect(broker.url, { protocolVersion: 5 });
  t.teardown(() => client.end());
  const archive = (result.json as { archive: string }).archive;
  const list = await client.command(`${root}/cmd/list-archives`, { camera: 'cam1', limit: 20 }, 'v5', 'replies/a');
  const entries = (list.json as { result: Array<{ file: string; analysed: boolean }> }).result;
  t.equal(entries.find((e) => e.file === archive)?.analysed, true, 'list-archives marks the archive analysed');
  const results = watcher.on(`${root}/analysis`).filter((m) => (m.json as { archive: string }).archive === archive);
  t.equal(results.length, 1, 'one result per archive');
});

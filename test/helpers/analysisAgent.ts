/** What the tests of the real agent with analysis on share: the fake Gemini API and a broker to watch. */
import path from 'node:path';
import type { Test } from 'tap';
import { AgentProcess, testConfig } from './agentProcess.js';
import { FakeGemini, type FakeGeminiOptions } from './fakeGemini.js';
import { Mosquitto } from './mosquitto.js';
import { TestClient } from './mqttClient.js';

/** The topic root of testConfig's device. */
export const ROOT_TOPIC = 'edge/test-device';

/**
 * A started FakeGemini, a Mosquitto under `dir`/broker and a watcher subscribed to `topics`
 * (under ROOT_TOPIC), all stopped at the end of `t`; `startAgent` starts the agent on them with
 * analysis on (`analysis` added to its section, `edit` for the rest of its config).
 */
export async function analysisAgentWorld(t: Test, dir: string, topics: string[], gemini: FakeGeminiOptions = {}) {
  const api = await new FakeGemini(gemini).start();
  t.teardown(() => api.close());
  const broker = new Mosquitto({ dir: path.join(dir, 'broker') });
  await broker.start();
  t.teardown(() => broker.stop());
  const watcher = await TestClient.connect(broker.url, { protocolVersion: 5 });
  t.teardown(() => watcher.end());
  for (const topic of topics) await watcher.subscribe(`${ROOT_TOPIC}/${topic}`);
  const startAgent = (
    analysis: Record<string, unknown>,
    edit: (config: Record<string, unknown>) => void = () => undefined,
  ): AgentProcess => {
    const config = testConfig(dir, {
      mqtt: { url: broker.url },
      analysis: { enabled: true, baseUrl: api.url, ...analysis },
    });
    edit(config);
    const agent = AgentProcess.start(dir, config, { GEMINI_API_KEY: api.apiKey });
    t.teardown(() => agent.stop());
    return agent;
  };
  return { gemini: api, broker, watcher, root: ROOT_TOPIC, startAgent };
}

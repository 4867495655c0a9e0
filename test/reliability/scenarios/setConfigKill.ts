/**
 * kill -9 of the agent right after a set-config is sent: the config file must be the old or the
 * new one, whole, and pass `edge-agent config check` (run in-process through the CLI's own code).
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Test } from 'tap';
import { configCommand } from '../../../agent/cli/config.js';
import { AgentProcess, testConfig } from '../../helpers/agentProcess.js';
import { waitFor } from '../../helpers/waitFor.js';
import { Mosquitto } from '../../helpers/mosquitto.js';
import { TestClient } from '../../helpers/mqttClient.js';
import { Prng } from '../lib/prng.js';
import { recordResult } from '../lib/results.js';

/** `edge-agent config check FILE`, in-process: exit status and what it printed. */
export async function configCheck(file: string): Promise<{ code: number; out: string }> {
  let out = '';
  const io = { stdout: (s: string) => (out += s), stderr: (s: string) => (out += s), env: {} };
  const code = await configCommand({ positionals: ['check', file], set: [], json: false }, io);
  return { code, out };
}

export async function setConfigKill(
  t: Test,
  options: { times: number; mode: 'ci' | 'long'; seed?: number },
): Promise<void> {
  const rng = new Prng(options.seed ?? 9);
  const dir = t.testdir();
  const broker = new Mosquitto({ dir: path.join(dir, 'broker') });
  await broker.start();
  t.teardown(() => broker.stop());
  const client = await TestClient.connect(broker.url);
  t.teardown(() => client.end());
  const file = path.join(dir, 'config.json');
  let bitrate = 400;
  let config = testConfig(dir, { mqtt: { url: broker.url }, encoder: { prefer: 'auto', bitrateKbps: bitrate } });
  const outcome = { old: 0, new: 0 };
  const delays: number[] = [];
  for (let i = 0; i < options.times; i += 1) {
    const agent = AgentProcess.start(dir, config);
    t.teardown(() => agent.stop());
    // The agent's session is clean: a command sent before its SUBACK would be dropped by the broker.
    await agent.waitLog('mqtt commands subscribed', 1, 30_000);
    await client.command('edge/test-device/cmd/ping', {}, 'v5', 'replies/rel', 30_000);
    const before = await readFile(file, 'utf8');
    const next = bitrate + 1 + rng.int(0, 50);
    // The agent persists within a few ms of the command: most kills must land around then.
    const delay = rng.int(0, 10);
    delays.push(delay);
    await client.raw('edge/test-device/cmd/set-config', JSON.stringify({ set: { 'encoder.bitrateKbps': next } }));
    const sentAt = Date.now();
    await waitFor('the kill moment', () => Date.now() - sentAt >= delay, 1000, 1);
    agent.child.kill('SIGKILL');
    await agent.exited;
    const after = await readFile(file, 'utf8');
    let parsed: { encoder?: { bitrateKbps?: number } } | null = null;
    try {
      parsed = JSON.parse(after);
    } catch {
      parsed = null;
    }
    t.ok(parsed, `run ${i + 1}: the config file is whole JSON`);
    const check = await configCheck(file);
    t.equal(check.code, 0, `run ${i + 1}: config check passes (${check.out.trim()})`);
    const value = parsed?.encoder?.bitrateKbps;
    if (after === before) outcome.old += 1;
    else if (value === next) outcome.new += 1;
    else t.fail(`run ${i + 1}: neither the old nor the new config (bitrate ${value})`);
    if (value === next) bitrate = next;
    config = JSON.parse(after) as Record<string, unknown>;
  }
  const temps = (await readdir(dir)).filter((n) => n.endsWith('.tmp'));
  t.ok(outcome.old + outcome.new === options.times, `old ${outcome.old}, new ${outcome.new} of ${options.times}`);
  recordResult(
    {
      id: 'h-setconfig-kill',
      scenario: 'kill -9 right after set-config (config persistence)',
      mode: options.mode,
      tried: `${options.times} kills 0–10 ms after the command was acknowledged by the broker`,
      lost: 'nothing: the file was whole every time',
      notes: `old file ${outcome.old}×, new file ${outcome.new}×; config check passed every time; ${temps.length} temporary file(s) left beside it`,
    },
    t.passing(),
  );
}

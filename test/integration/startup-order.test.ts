/**
 * Start-up order (README "Start-up"): archives recovered at start are announced like any other.
 * The real agent and a persistent QoS 1 subscriber on a real Mosquitto: kill -9 mid-archive, a
 * restart, and every archive on disk must have exactly one archive.finished or archive.recovered.
 * (The recovery used to run before the outbox publisher listened: logged, never published.)
 */
import mqtt from 'mqtt';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { AgentProcess, testConfig, waitFor } from '../helpers/agentProcess.js';
import { Mosquitto } from '../helpers/mosquitto.js';

async function archivesOnDisk(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const day of (await readdir(path.join(root, 'cam1')).catch(() => [] as string[])).filter((d) => /^\d{4}-/.test(d))) {
    for (const name of await readdir(path.join(root, 'cam1', day))) if (/^archive_.*\.mp4$/.test(name)) out.push(`cam1/${day}/${name}`);
  }
  return out.sort();
}

t.test('kill -9 and a restart: every archive on disk announced exactly once, the recovered ones as archive.recovered', async (t) => {
  const dir = t.testdir({ broker: {} });
  const broker = new Mosquitto({ dir: path.join(dir, 'broker') });
  await broker.start();
  t.teardown(() => broker.stop());
  const events: Array<{ type: string; file: string; id: string }> = [];
  const subscriber = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'startup-order-subscriber', clean: false, properties: { sessionExpiryInterval: 600 }, reconnectPeriod: 200 });
  t.teardown(() => subscriber.endAsync(true));
  subscriber.on('message', (_topic, payload) => {
    const event = JSON.parse(payload.toString()) as { type: string; file?: string; id: string };
    if (event.file) events.push({ type: event.type, file: event.file, id: event.id });
  });
  await subscriber.subscribeAsync('edge/test-device/events', { qos: 1 });

  const config = testConfig(dir, { mqtt: { url: broker.url } });
  const first = AgentProcess.start(dir, config);
  t.teardown(() => first.stop());
  await first.waitLog('archive finished', 2, 60_000);
  first.child.kill('SIGKILL');
  await first.exited;

  const second = AgentProcess.start(dir, config);
  t.teardown(() => second.stop());
  const recovered = await second.waitLog('archive recovered', 1, 60_000);
  await second.waitLog('archive finished', 1, 60_000);
  t.equal((await second.stop()).code, 0, 'clean stop');

  const archiveRoot = path.join(dir, 'archive');
  const onDisk = await archivesOnDisk(archiveRoot);
  await waitFor('an event for every archive on disk', () => onDisk.every((file) => events.some((e) => e.file === file)), 30_000).catch(() => undefined);
  for (const record of recovered) {
    t.ok(events.some((e) => e.type === 'archive.recovered' && e.file === record.file), `archive.recovered published for ${String(record.file)}`);
  }
  for (const file of onDisk) {
    const ids = new Set(events.filter((e) => e.file === file).map((e) => e.id));
    t.equal(ids.size, 1, `${file}: exactly one archive event (${[...ids].length} distinct ids)`);
  }
  t.ok(onDisk.length >= 3, `${onDisk.length} archives on disk`);
});

/**
 * Start-up order (README "Start-up"): archives recovered at start are announced like any other.
 * The real agent and a persistent QoS 1 subscriber on a real Mosquitto: kill -9 mid-archive, a
 * restart, and every archive on disk must have exactly one archive.finished or archive.recovered.
 * (The recovery used to run before the outbox publisher listened: logged, never published.)
 * The failpoint runs kill the agent at the exact steps of the archive protocol where an archive
 * exists but is not yet announced; the next start's catch-up (step 9) must announce it, once.
 * "Once" is one distinct payload: a QoS 1 redelivery repeats the same payload, a second
 * announcement would carry another `ts`.
 */
import mqtt from 'mqtt';
import { existsSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { AgentProcess, testConfig } from '../helpers/agentProcess.js';
import { waitFor } from '../helpers/waitFor.js';
import { Mosquitto } from '../helpers/mosquitto.js';

async function archivesOnDisk(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const day of (await readdir(path.join(root, 'cam1')).catch(() => [] as string[])).filter((d) =>
    /^\d{4}-/.test(d),
  )) {
    for (const name of await readdir(path.join(root, 'cam1', day)))
      if (/^archive_.*\.mp4$/.test(name)) out.push(`cam1/${day}/${name}`);
  }
  return out.sort();
}

/** A broker and a persistent QoS 1 subscriber on R/events, every archive event's raw payload kept. */
async function brokerAndSubscriber(t: Test, dir: string, clientId: string) {
  const broker = new Mosquitto({ dir: path.join(dir, 'broker') });
  await broker.start();
  t.teardown(() => broker.stop());
  const events: ArchiveEvent[] = [];
  const subscriber = await mqtt.connectAsync(broker.url, {
    protocolVersion: 5,
    clientId,
    clean: false,
    properties: { sessionExpiryInterval: 600 },
    reconnectPeriod: 200,
  });
  t.teardown(() => subscriber.endAsync(true));
  subscriber.on('message', (_topic, payload) => {
    const event = JSON.parse(payload.toString()) as Omit<ArchiveEvent, 'raw'>;
    if (event.file) events.push({ ...event, raw: payload.toString() });
  });
  await subscriber.subscribeAsync('edge/test-device/events', { qos: 1 });
  return { broker, events };
}

interface ArchiveEvent {
  type: string;
  file: string;
  id: string;
  raw: string;
}

/** Every archive on disk has exactly one announcement, all of one archive under one id. */
async function assertEachAnnouncedOnce(t: Test, archiveRoot: string, events: ArchiveEvent[]): Promise<string[]> {
  const onDisk = await archivesOnDisk(archiveRoot);
  await waitFor(
    'an event for every archive on disk',
    () => onDisk.every((file) => events.some((e) => e.file === file)),
    30_000,
  ).catch(() => undefined);
  for (const file of onDisk) {
    const payloads = new Set(events.filter((e) => e.file === file).map((e) => e.raw));
    t.equal(payloads.size, 1, `${file}: exactly one archive event (${payloads.size} distinct)`);
  }
  const ids = new Map<string, Set<string>>();
  for (const e of events) ids.set(e.file, (ids.get(e.file) ?? new Set()).add(e.id));
  t.ok(
    [...ids.values()].every((set) => set.size === 1),
    'one stable id per archive',
  );
  t.equal(new Set(events.map((e) => e.id)).size, ids.size, 'and a different one for each archive');
  return onDisk;
}

t.test(
  'kill -9 and a restart: every archive on disk announced exactly once, the recovered ones as archive.recovered',
  async (t) => {
    const dir = t.testdir({ broker: {} });
    const { broker, events } = await brokerAndSubscriber(t, dir, 'startup-order-subscriber');
    const config = testConfig(dir, { mqtt: { url: broker.url } });
    const first = AgentProcess.start(dir, config);
    t.teardown(() => first.stop());
    await first.waitEvent('archive.finished', 2, 60_000);
    first.child.kill('SIGKILL');
    await first.exited;

    const second = AgentProcess.start(dir, config);
    t.teardown(() => second.stop());
    const recovered = await second.waitEvent('archive.recovered', 1, 60_000);
    await second.waitEvent('archive.finished', 1, 60_000);
    t.equal((await second.stop()).code, 0, 'clean stop');

    const onDisk = await assertEachAnnouncedOnce(t, path.join(dir, 'archive'), events);
    for (const record of recovered) {
      t.ok(
        events.some((e) => e.type === 'archive.recovered' && e.file === record.file),
        `archive.recovered published for ${String(record.file)}`,
      );
    }
    t.ok(onDisk.length >= 3, `${onDisk.length} archives on disk`);
  },
);

// Archive protocol (README "Archives and power cuts"): killed after step 5 (the archive made,
// its partial still there) and after step 6 (the partial removed), both before step 7 (announce).
for (const point of ['archive.made', 'archive.partial-removed']) {
  t.test(
    `killed at failpoint ${point}: the archive made but not announced is announced at the next start, once`,
    async (t) => {
      const dir = t.testdir({ broker: {} });
      const { broker, events } = await brokerAndSubscriber(t, dir, `failpoint-${point}`);
      const config = testConfig(dir, { mqtt: { url: broker.url } });
      const first = AgentProcess.start(dir, config, { EDGE_AGENT_FAILPOINT: point });
      t.teardown(() => first.stop());
      t.equal((await first.exited).signal, 'SIGKILL', 'the agent died at the failpoint');
      const made = await archivesOnDisk(path.join(dir, 'archive'));
      // archive.made kills after the first archive of a partial; archive.partial-removed after
      // all of them, and a partial that ran past its period (a loaded machine) is cut in two.
      if (point === 'archive.made') t.equal(made.length, 1, 'one archive made before the kill');
      else t.ok(made.length >= 1, `${made.length} archive(s) made before the kill`);
      t.notOk(
        first.records.some((r) => r.msg === 'archive finished'),
        'and never announced',
      );

      const second = AgentProcess.start(dir, config);
      t.teardown(() => second.stop());
      const caught = await second.waitLog('archive was never announced; announcing it now', made.length, 60_000);
      t.same(caught.map((r) => r.file).sort(), made, 'the catch-up found exactly those');
      await second.waitEvent('archive.finished', 1, 60_000);
      t.equal((await second.stop()).code, 0, 'clean stop');
      await assertEachAnnouncedOnce(t, path.join(dir, 'archive'), events);
      for (const file of made)
        t.same(
          events.filter((e) => e.file === file).map((e) => e.type),
          ['archive.finished'],
          `${file} announced as the finished archive it is`,
        );
    },
  );
}

t.test(
  'steps 2-3: the lock, then FFmpeg before the link; a second agent on the same data dir stops before it records; a clean stop frees the lock',
  async (t) => {
    const dir = t.testdir();
    const config = testConfig(dir);
    const lock = path.join(dir, 'data', 'agent.lock');
    const partials = path.join(dir, 'archive', 'cam1', '.partial');
    const first = AgentProcess.start(dir, config);
    t.teardown(() => first.stop());
    await first.waitEvent('pipeline.started');
    await first.waitLog('mqtt connecting');
    const order = first.records.map((r) => r.msg).filter((m) => m === 'ffmpeg command' || m === 'mqtt connecting');
    t.same(order.slice(0, 2), ['ffmpeg command', 'mqtt connecting'], 'step 3: FFmpeg spawned before the link starts');
    const runs = await readdir(partials);

    const second = AgentProcess.start(dir, config);
    t.teardown(() => second.stop());
    t.equal((await second.exited).code, 1, 'the second agent exits 1');
    t.match(JSON.stringify(second.logs('could not start')), /another agent \(pid \d+\) is running with this data dir/);
    t.same(second.logs('ffmpeg command'), [], 'it started no FFmpeg');
    t.same(await readdir(partials), runs, 'and began no recording');
    t.equal(readFileSync(lock, 'utf8').split('\n')[0], String(first.child.pid), 'the first still holds the lock');
    t.equal(first.child.exitCode, null, 'and runs on');

    t.equal((await first.stop()).code, 0, 'clean stop');
    t.notOk(existsSync(lock), 'the lock is gone after a clean stop');
  },
);

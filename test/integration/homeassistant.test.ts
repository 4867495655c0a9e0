/**
 * Home Assistant MQTT discovery on the real agent against a real Mosquitto: every published
 * device payload carries the fields HA documents as required (root `device` with identifiers and
 * name, `origin.name`, per component `platform` and `unique_id`, and each platform's required
 * topic: camera `topic`, sensor and binary_sensor `state_topic`, button `command_topic`), the
 * snapshot topic carries a JPEG, HA's birth gets the payload again, the button restarts the
 * pipeline, a removed camera's entities and a switched-off discovery are removed.
 * Field list: home-assistant.io, integrations/mqtt ("Device discovery payload") and the
 * camera/sensor/binary_sensor/button MQTT platform pages.
 */
import path from 'node:path';
import t from 'tap';
import { AgentProcess, testConfig } from '../helpers/agentProcess.js';
import { waitFor } from '../helpers/waitFor.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TestClient, type Received } from '../helpers/mqttClient.js';

const ROOT = 'edge/test-device';
const DISCOVERY = 'homeassistant/device/test-device/config';

type Doc = Record<string, unknown> & { components?: Record<string, Record<string, unknown>> };

/** The problems of one discovery payload against HA's documented required fields. */
function problems(doc: Doc): string[] {
  const out: string[] = [];
  const device = (doc.device ?? doc.dev) as Record<string, unknown> | undefined;
  const ids = device?.identifiers ?? device?.ids;
  if (!device || !(Array.isArray(ids) ? ids.length > 0 : typeof ids === 'string'))
    out.push('device.identifiers missing');
  if (typeof device?.name !== 'string') out.push('device.name missing');
  const origin = (doc.origin ?? doc.o) as Record<string, unknown> | undefined;
  if (typeof origin?.name !== 'string') out.push('origin.name missing');
  for (const a of (doc.availability ?? []) as Array<Record<string, unknown>>)
    if (typeof a.topic !== 'string') out.push('availability without topic');
  const components = (doc.components ?? doc.cmps) as Record<string, Record<string, unknown>> | undefined;
  if (!components || Object.keys(components).length === 0) out.push('no components');
  for (const [id, c] of Object.entries(components ?? {})) {
    const platform = c.platform ?? c.p;
    if (typeof platform !== 'string') out.push(`${id}: platform missing`);
    if (Object.keys(c).length === 1) continue; // {platform} alone: HA's removal of one component
    if (typeof (c.unique_id ?? c.uniq_id) !== 'string') out.push(`${id}: unique_id missing`);
    const need: Record<string, string> = {
      camera: 'topic',
      sensor: 'state_topic',
      binary_sensor: 'state_topic',
      button: 'command_topic',
    };
    const key = need[platform as string];
    if (!key) out.push(`${id}: unexpected platform ${String(platform)}`);
    else if (typeof (c[key] ?? doc[key]) !== 'string') out.push(`${id}: ${key} missing`);
  }
  return out;
}

const configs = (client: TestClient): Received[] => client.on(DISCOVERY);

t.test('home assistant discovery on the real agent', async (t) => {
  const dir = t.testdir();
  const broker = new Mosquitto({ dir: path.join(dir, 'broker') });
  await broker.start();
  t.teardown(() => broker.stop());
  const watcher = await TestClient.connect(broker.url);
  t.teardown(() => watcher.end());
  await watcher.subscribe('homeassistant/#');
  await watcher.subscribe(`${ROOT}/#`);
  const jpegs = new Map<string, Buffer>();
  watcher.client.on('message', (topic, payload) => {
    if (topic.startsWith(`${ROOT}/snapshot/`)) jpegs.set(topic, payload);
  });

  const config = testConfig(
    dir,
    { mqtt: { url: broker.url, healthIntervalSeconds: 2, homeAssistant: { enabled: true, snapshotSeconds: 2 } } },
    ['cam1', 'cam2'],
  );
  const agent = AgentProcess.start(dir, config);
  t.teardown(() => agent.stop());

  const first = await watcher.waitFor((m) => m.topic === DISCOVERY && m.text.length > 0, 30_000);
  t.ok(first.text.length > 0, 'discovery published on homeassistant/device/<device id>/config');
  const doc = first.json as Doc;
  t.same(problems(doc), [], 'the device payload has every field HA requires');
  const components = doc.components!;
  t.same(
    Object.entries(components)
      .map(([id, c]) => `${id}:${String(c.platform)}`)
      .sort(),
    [
      'cam1_camera:camera',
      'cam1_fps:sensor',
      'cam1_last_frame_age:sensor',
      'cam1_restart:button',
      'cam1_up:binary_sensor',
      'cam2_camera:camera',
      'cam2_fps:sensor',
      'cam2_last_frame_age:sensor',
      'cam2_restart:button',
      'cam2_up:binary_sensor',
      'disk_free:sensor',
      'recording_hours_left:sensor',
      'temperature:sensor',
    ],
    'per camera: camera, fps, last frame age, up, restart; board: temperature, disk free, hours left',
  );
  t.match(
    doc.availability,
    [{ topic: `${ROOT}/status`, payload_available: 'online' }],
    'availability follows R/status',
  );
  const uniques = Object.values(components).map((c) => c.unique_id);
  t.equal(new Set(uniques).size, uniques.length, 'unique ids are unique');

  // A late subscriber (HA starting up) gets it retained.
  const late = await TestClient.connect(broker.url);
  t.teardown(() => late.end());
  await late.subscribe(DISCOVERY);
  const retained = await late.waitFor((m) => m.topic === DISCOVERY, 5_000);
  t.ok(retained.retain && retained.text.length > 0, 'the discovery payload is retained');

  // The camera entity's topic carries JPEG bytes.
  const cameraTopic = components.cam1_camera!.topic as string;
  const jpeg = await waitFor('a snapshot on the camera topic', () => jpegs.get(cameraTopic), 30_000);
  t.same([...jpeg.subarray(0, 2)], [0xff, 0xd8], 'the snapshot topic carries a JPEG (FF D8)');
  t.same([...jpeg.subarray(-2)], [0xff, 0xd9], 'a whole one (FF D9 at the end)');

  // The sensors' state topic is R/health, and it carries what the templates read.
  const health = await watcher.waitFor(
    (m) => m.topic === `${ROOT}/health` && Array.isArray((m.json as { cameras?: unknown }).cameras),
    15_000,
  );
  t.match(
    health.json,
    { cameras: [{ camera: 'cam1', fps: Number, state: String }], disk: { freeBytes: Number } },
    'R/health has the fields the templates read',
  );
  t.ok(
    'maxTemperatureCelsius' in (health.json as object) && 'recordingHoursLeft' in (health.json as object),
    'temperature and hours left are there (null when unknown)',
  );

  // HA's birth: the payload again.
  const count = configs(watcher).length;
  const ha = await TestClient.connect(broker.url);
  t.teardown(() => ha.end());
  await ha.raw('homeassistant/status', 'online');
  await waitFor('discovery republished after HA online', () => configs(watcher).length > count, 10_000);
  t.pass('republished when Home Assistant announces itself online');

  // The button restarts the pipeline through restart-pipeline.
  const button = components.cam1_restart!;
  const started = agent.events('pipeline.started').length;
  await ha.raw(button.command_topic as string, button.payload_press as string);
  await agent.waitEvent('pipeline.started', started + 1, 30_000);
  t.equal(agent.events('pipeline.started').filter((r) => r.camera === 'cam2').length, 1, 'only cam1 restarted');

  // A removed camera: its components go as {platform}, then the payload without them; its snapshot is cleared.
  const before = configs(watcher).length;
  const reply = await ha.command(
    `${ROOT}/cmd/set-config`,
    { set: { cameras: [{ id: 'cam1', source: 'test', width: 320, height: 240, fps: 15 }] } },
    'v5',
    'replies/a',
    60_000,
  );
  t.match(reply.json, { ok: true }, 'camera cam2 removed by set-config');
  const after = await waitFor(
    'two payloads after the removal',
    () => (configs(watcher).length >= before + 2 ? configs(watcher).slice(before) : null),
    15_000,
  );
  const removal = after[0]!.json as Doc;
  t.same(removal.components!.cam2_fps, { platform: 'sensor' }, 'cam2 components sent as {platform}: HA deletes them');
  t.same(problems(removal), [], 'the removal payload is valid too');
  const clean = after.at(-1)!.json as Doc;
  t.notOk(
    Object.keys(clean.components!).some((id) => id.startsWith('cam2_')),
    'then the payload without cam2',
  );
  await watcher.waitFor((m) => m.topic === `${ROOT}/snapshot/cam2` && m.text === '', 10_000);
  t.pass('the retained cam2 snapshot is cleared');

  // Switched off: an empty retained payload removes the device.
  const off = await ha.command(
    `${ROOT}/cmd/set-config`,
    { set: { 'mqtt.homeAssistant.enabled': false } },
    'v5',
    'replies/b',
    60_000,
  );
  t.match(off.json, { ok: true }, 'discovery switched off');
  const cleared = watcher.inbox.length;
  await watcher.waitFor((m) => m.topic === DISCOVERY && m.text === '', 10_000);
  await waitFor(
    'the cam1 snapshot cleared',
    () => watcher.inbox.slice(cleared).some((m) => m.topic === `${ROOT}/snapshot/cam1` && m.text === ''),
    10_000,
  );
  const newcomer = await TestClient.connect(broker.url);
  t.teardown(() => newcomer.end());
  await newcomer.subscribe(DISCOVERY);
  await newcomer.subscribe(`${ROOT}/snapshot/#`);
  await new Promise((r) => setTimeout(r, 1000));
  t.same(
    newcomer.inbox.map((m) => m.topic),
    [],
    'nothing retained: no discovery, no snapshots',
  );
  const n = configs(watcher).length;
  await ha.raw('homeassistant/status', 'online');
  await new Promise((r) => setTimeout(r, 2000));
  t.equal(configs(watcher).length, n, "switched off: HA's birth gets nothing");
});

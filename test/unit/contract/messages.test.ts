/**
 * The topic → payload map (contract/messages.ts TopicPayloads) is enforced by the type-checker:
 * `npm run typecheck` compiles this file, and every `@ts-expect-error` line must be an error, so a
 * loosened signature (a wrong payload accepted for a topic) fails the type check. The runtime half
 * shows the typed topics are the plain strings on the wire and what the outbox stores.
 */
import t from 'tap';
import type { AgentEvent } from '../../../agent/contract/events.js';
import type { AnalysisResult, ReportedConfigMessage } from '../../../agent/contract/messages.js';
import { buildTopics, homeAssistantTopics, isSafeReplyTopic } from '../../../agent/contract/topics.js';
import type { PublishLink } from '../../../agent/link/publisher.js';
import type { MqttLink } from '../../../agent/link/mqttLink.js';
import { Outbox } from '../../../agent/outbox/outbox.js';
import { openStore } from '../../../agent/store/store.js';
import { silentLogger } from '../../../agent/util/logger.js';

const TS = '2025-01-01T00:00:00.000Z';
const topics = buildTopics('edge', 'gate-01');
const event: AgentEvent<'camera.found'> = { type: 'camera.found', camera: 'cam1', source: 'usb', ts: TS };
const result: AnalysisResult = {
  camera: 'cam1',
  archive: 'a',
  start: TS,
  end: TS,
  model: 'm',
  summary: 's',
  events: [],
  ts: TS,
};
const reported: ReportedConfigMessage = { version: 1, status: 'applied', code: 200, message: 'ok', config: {}, ts: TS };

// Never called: only compiled. Each pair is the right payload, then a wrong one the checker must refuse.
export async function payloadsAreTypedByTopic(link: MqttLink, publishLink: PublishLink, outbox: Outbox): Promise<void> {
  await link.publish(topics.configReported, reported, { qos: 1, retain: true });
  // @ts-expect-error a config report is not a status message
  await link.publish(topics.status, reported, { qos: 1, retain: true });
  const withoutCode = { version: 1, status: 'applied', message: 'ok', config: {}, ts: TS } as const;
  // @ts-expect-error a report without its `code`
  await link.publish(topics.configReported, withoutCode, { qos: 1 });
  // @ts-expect-error `done` is not a reported status
  await publishLink.publish(topics.configReported, { ...reported, status: 'done' }, { qos: 1 });
  await link.publish(topics.snapshot('cam1'), Buffer.from([0xff, 0xd8]), { qos: 0, retain: true });
  // @ts-expect-error a snapshot is JPEG bytes, not text
  await link.publish(topics.snapshot('cam1'), 'jpeg', { qos: 0 });
  // @ts-expect-error a plain string is no topic: the payload type would be unknown
  await link.publish('edge/gate-01/status', reported, { qos: 1 });
  const reply = 'replies/me';
  if (isSafeReplyTopic(topics, reply)) {
    await link.publish(reply, { ok: true, result: 'pong' }, { qos: 1 });
    // @ts-expect-error a failed reply carries `error`, not `result`
    await link.publish(reply, { ok: false, result: 'pong' }, { qos: 1 });
  }
  // @ts-expect-error discovery is Home Assistant's document, not ours
  await link.publish(homeAssistantTopics('gate-01').discovery, reported, { qos: 1, retain: true });

  outbox.enqueue(topics.events, event);
  outbox.enqueue(topics.analysis, result);
  outbox.enqueue(topics.events, { ...event, id: 'stable-id' });
  // @ts-expect-error an analysis result on R/events
  outbox.enqueue(topics.events, result);
  // @ts-expect-error an event on R/analysis
  outbox.enqueue(topics.analysis, event);
  // @ts-expect-error an event type's own fields are kept: camera.found has a `source`
  outbox.enqueue(topics.events, { type: 'camera.found', camera: 'cam1', ts: TS });
  // @ts-expect-error health is not durable: it goes straight to the link
  outbox.enqueue(topics.health, { outbox: { depth: 0, dropped: 0 }, ts: TS });
}

t.test('typed topics are the plain topic strings', async (t) => {
  t.equal(topics.configReported, 'edge/gate-01/config/reported');
  t.equal(topics.snapshot('cam1'), 'edge/gate-01/snapshot/cam1');
  t.equal(homeAssistantTopics('gate.01').discovery, 'homeassistant/device/gate_01/config');
});

t.test('the outbox stores a typed message under its topic, keeping an id it brings', async (t) => {
  const db = openStore(t.testdir());
  t.teardown(() => db.close());
  const outbox = new Outbox({ db, log: silentLogger(), newId: () => 'new-id' });
  outbox.start();
  outbox.enqueue(topics.events, event);
  outbox.enqueue(topics.analysis, { ...result, id: 'stable-id' });
  const rows = outbox.peek(0, 10);
  t.same(
    rows.map((r) => [r.topic, r.id]),
    [
      ['edge/gate-01/events', 'new-id'],
      ['edge/gate-01/analysis', 'stable-id'],
    ],
  );
  t.same(JSON.parse(rows[0]!.payload), { ...event, id: 'new-id' });
});

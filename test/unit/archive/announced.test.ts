import t from 'tap';
import { AnnouncedArchives } from '../../../agent/archive/announced.js';
import { archiveEventId } from '../../../agent/contract/ids.js';
import { CATCH_UP_DAYS, CATCH_UP_REASON, unannouncedArchives } from '../../../agent/archive/catchUp.js';
import { buildTopics } from '../../../agent/contract/topics.js';
import { LinkPublisher } from '../../../agent/link/publisher.js';
import { Outbox } from '../../../agent/outbox/outbox.js';
import { openStore } from '../../../agent/store/store.js';
import { EventBus } from '../../../agent/util/bus.js';
import { silentLogger } from '../../../agent/util/logger.js';
import { fakeRedact, testConfig } from '../../helpers/agentFakes.js';

const DAY = 24 * 3600_000;
const NOW = Date.parse('2024-06-10T12:00:00Z');
const archive = {
  camera: 'cam1',
  file: 'cam1/2024-06-10/archive_20240610T115000Z.mp4',
  start: '2024-06-10T11:50:00.000Z',
  seconds: 600,
  bytes: 10,
  clockSynced: true,
};

t.test('archiveEventId: stable per device and archive, different otherwise, UUID-shaped', async (t) => {
  const id = archiveEventId('gate-01', archive.file);
  t.equal(archiveEventId('gate-01', archive.file), id, 'the same archive: the same id, every time');
  t.not(archiveEventId('gate-02', archive.file), id, 'another device');
  t.not(archiveEventId('gate-01', archive.file.replace('115000', '120000')), id, 'another archive');
  t.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

t.test('AnnouncedArchives', async (t) => {
  const db = openStore(t.testdir());
  t.teardown(() => db.close());
  const ledger = new AnnouncedArchives(db, () => NOW);
  t.equal(ledger.since(), NOW, 'begins now');
  t.equal(new AnnouncedArchives(db, () => NOW + DAY).since(), NOW, 'and keeps its beginning across restarts');
  let sent = 0;
  t.ok(
    ledger.once(archive, 'id-1', () => (sent += 1)),
    'first announcement runs',
  );
  t.notOk(
    ledger.once(archive, 'id-1', () => (sent += 1)),
    'a second does not',
  );
  t.equal(sent, 1);
  t.ok(ledger.has(archive.file));
  const other = { file: 'cam1/2024-06-10/archive_20240610T120000Z.mp4', start: '2024-06-10T12:00:00.000Z' };
  t.throws(
    () =>
      ledger.once(other, 'id-2', () => {
        throw new Error('outbox full');
      }),
    /outbox full/,
  );
  t.notOk(ledger.has(other.file), 'an announcement that failed leaves no ledger row: the catch-up retries it');
  t.equal(ledger.prune(NOW + 30 * DAY), 1, 'old rows pruned');
  t.notOk(ledger.has(archive.file));
});

t.test('unannouncedArchives', async (t) => {
  const sidecar = (start: string, recovered: boolean) =>
    JSON.stringify({ start, seconds: 600, clockSynced: false, recovered, source: 'cam1/.partial/r/rec-000000.ts' });
  const root = t.testdir({
    cam1: {
      '2024-06-10': {
        'archive_20240610T114000Z.mp4': 'aaaa',
        'archive_20240610T114000Z.json': sidecar('2024-06-10T11:40:00.000Z', false),
        'archive_20240610T115000Z.mp4': 'bbbbbb',
        'archive_20240610T115000Z.json': sidecar('2024-06-10T11:50:00.000Z', true),
        // No sidecar: not made by the agent's finisher (its sidecar comes before its name).
        'archive_20240610T113000Z.mp4': 'cc',
        '.archive_20240610T120000Z.mp4.part': 'dd',
      },
      '2024-06-01': {
        'archive_20240601T100000Z.mp4': 'e',
        'archive_20240601T100000Z.json': sidecar('2024-06-01T10:00:00.000Z', false),
      },
    },
  });
  const found = await unannouncedArchives(root, { since: NOW - 30 * DAY, now: NOW, announced: () => false });
  t.same(
    found.map((e) => [e.type, e.payload.file]),
    [
      ['archive.finished', 'cam1/2024-06-10/archive_20240610T114000Z.mp4'],
      ['archive.recovered', 'cam1/2024-06-10/archive_20240610T115000Z.mp4'],
    ],
    `oldest first; none older than ${CATCH_UP_DAYS} days, none without a sidecar, no temp file`,
  );
  t.same(found[1]!.payload, {
    camera: 'cam1',
    file: 'cam1/2024-06-10/archive_20240610T115000Z.mp4',
    start: '2024-06-10T11:50:00.000Z',
    seconds: 600,
    bytes: 6,
    clockSynced: false,
    reason: CATCH_UP_REASON,
  });
  const since = await unannouncedArchives(root, {
    since: Date.parse('2024-06-10T11:45:00Z'),
    now: NOW,
    announced: () => false,
  });
  t.same(
    since.map((e) => e.payload.file),
    ['cam1/2024-06-10/archive_20240610T115000Z.mp4'],
    'nothing from before the ledger began',
  );
  const rest = await unannouncedArchives(root, {
    since: 0,
    now: NOW,
    announced: (file) => file.endsWith('114000Z.mp4'),
  });
  t.same(
    rest.map((e) => e.payload.file),
    ['cam1/2024-06-10/archive_20240610T115000Z.mp4'],
    'announced ones skipped',
  );
});

t.test('LinkPublisher stores an archive event once, under its stable id; other events every time', async (t) => {
  const db = openStore(t.testdir());
  t.teardown(() => db.close());
  const outbox = new Outbox({ db, log: silentLogger() });
  outbox.start();
  const link = { topics: buildTopics('edge', 'gate-01'), publish: async () => true, onConnect: () => () => undefined };
  const bus = new EventBus();
  const config = testConfig();
  const publisher = new LinkPublisher({
    link,
    outbox,
    bus,
    health: { snapshot: async () => ({}) },
    config: () => config,
    redact: fakeRedact,
    log: silentLogger(),
    announced: new AnnouncedArchives(db),
  });
  publisher.start();
  t.teardown(() => publisher.stop());
  bus.emit('archive.finished', archive);
  bus.emit('archive.recovered', { ...archive, reason: 'again' });
  bus.emit('disk.pruned', { camera: 'cam1', file: 'x', bytes: 1, reason: 'age' });
  bus.emit('disk.pruned', { camera: 'cam1', file: 'x', bytes: 1, reason: 'age' });
  const rows = outbox.peek(0, 10).map((r) => JSON.parse(r.payload) as { type: string; id: string });
  t.same(
    rows.map((r) => r.type),
    ['archive.finished', 'disk.pruned', 'disk.pruned'],
  );
  t.equal(rows[0]!.id, archiveEventId(config.device.id, archive.file));
});

import { access, mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { Retention, type DiskSpace } from '../../../agent/archive/retention.js';
import type { AgentEvent } from '../../../agent/contract/events.js';
import { EventBus } from '../../../agent/util/bus.js';
import { silentLogger } from '../../../agent/util/logger.js';

const HOUR = 3_600_000;
const NOW = Date.parse('2024-06-10T12:00:00Z');
const MB = 1000; // one "megabyte" of the fake disk: archives are a few KB so the tree stays small
type Fixture = Parameters<Test['testdir']>[0];

function stamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/** One archive: `<cam>/<date>/archive_<stamp>.mp4` with its sidecar, `size` bytes. */
interface Spec {
  cam: string;
  startMs: number;
  size: number;
  analysis?: boolean;
}

function relative(a: Spec): string {
  return `${a.cam}/${new Date(a.startMs).toISOString().slice(0, 10)}/archive_${stamp(a.startMs)}.mp4`;
}

/** A t.testdir fixture for the archives plus whatever extra entries (partials) are given. */
function tree(archives: Spec[], extra: Record<string, unknown> = {}): Fixture {
  const root: Record<string, Record<string, Record<string, string>>> = {};
  for (const a of archives) {
    const [cam, date, name] = relative(a).split('/') as [string, string, string];
    const day = ((root[cam] ??= {})[date] ??= {});
    day[name] = 'x'.repeat(a.size);
    day[name.replace(/\.mp4$/, '.json')] = JSON.stringify({
      start: new Date(a.startMs).toISOString(),
      seconds: 600,
      clockSynced: true,
      recovered: false,
    });
    if (a.analysis) day[name.replace(/\.mp4$/, '.analysis.json')] = '{}';
  }
  for (const [cam, content] of Object.entries(extra)) Object.assign((root[cam] ??= {}), content);
  return root as unknown as Fixture;
}

async function usedBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    total += entry.isDirectory() ? await usedBytes(full) : (await stat(full)).size;
  }
  return total;
}

/** A small disk holding only the archive tree: free space grows as retention deletes. */
function fakeDisk(root: string, totalBytes: number): () => Promise<DiskSpace> {
  return async () => ({ totalBytes, freeBytes: totalBytes - (await usedBytes(root)) });
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

function setup(
  t: Test,
  archives: Spec[],
  options: {
    totalBytes?: number;
    maxAgeHours?: number;
    minFreePercent?: number;
    pending?: (f: string) => boolean;
    extra?: Record<string, unknown>;
  } = {},
) {
  const root = t.testdir(tree(archives, options.extra));
  const bus = new EventBus(() => new Date(NOW));
  const events: Array<AgentEvent<'disk.pruned'>> = [];
  bus.on('disk.pruned', (e) => events.push(e));
  const retention = new Retention({
    config: () => ({
      archive: { dir: root, maxAgeHours: options.maxAgeHours ?? 24, minFreePercent: options.minFreePercent ?? 10 },
    }),
    bus,
    log: silentLogger(),
    now: () => NOW,
    space: fakeDisk(root, options.totalBytes ?? 1_000 * MB),
    isPendingAnalysis: options.pending,
  });
  return { root, retention, events };
}

// Ten-minute archives going back `count` segments from NOW.
function recent(cam: string, count: number, size: number): Spec[] {
  return Array.from({ length: count }, (_, i) => ({ cam, startMs: NOW - (count - i) * 600_000, size }));
}

t.test('age pruning', async (t) => {
  const cases: Array<[string, Spec[], number, string[]]> = [
    ['nothing older than maxAgeHours: nothing deleted', recent('cam0', 3, 100), 24, []],
    [
      'one archive 25 h old: deleted',
      [{ cam: 'cam0', startMs: NOW - 25 * HOUR, size: 100 }, ...recent('cam0', 2, 100)],
      24,
      [relative({ cam: 'cam0', startMs: NOW - 25 * HOUR, size: 0 })],
    ],
    [
      'exactly maxAgeHours old: kept (strictly older only)',
      [{ cam: 'cam0', startMs: NOW - 24 * HOUR, size: 100 }],
      24,
      [],
    ],
    [
      '1 ms past maxAgeHours: deleted',
      [{ cam: 'cam0', startMs: NOW - 24 * HOUR - 1000, size: 100 }],
      24,
      [relative({ cam: 'cam0', startMs: NOW - 24 * HOUR - 1000, size: 0 })],
    ],
    [
      'old archives of every camera',
      [
        { cam: 'cam0', startMs: NOW - 50 * HOUR, size: 10 },
        { cam: 'cam1', startMs: NOW - 49 * HOUR, size: 10 },
        { cam: 'cam1', startMs: NOW - HOUR, size: 10 },
      ],
      48,
      [
        relative({ cam: 'cam0', startMs: NOW - 50 * HOUR, size: 0 }),
        relative({ cam: 'cam1', startMs: NOW - 49 * HOUR, size: 0 }),
      ],
    ],
  ];
  for (const [name, archives, maxAgeHours, want] of cases) {
    t.test(name, async (t) => {
      const { root, retention, events } = setup(t, archives, { maxAgeHours });
      t.same(await retention.enforce(), want);
      t.same(
        events.map((e) => [e.file, e.reason]),
        want.map((f) => [f, 'age']),
      );
      for (const f of want) {
        t.notOk(await exists(path.join(root, f)), `${f} gone`);
        t.notOk(await exists(path.join(root, f.replace(/\.mp4$/, '.json'))), `${f} sidecar gone`);
      }
    });
  }
});

t.test('space pruning on a small disk', async (t) => {
  t.test('deletes oldest first until free space is back over the floor', async (t) => {
    // 10 archives of 1000 bytes (+ ~90-byte sidecars) on a 12 000-byte disk: ~9% free; floor 25%.
    const archives = recent('cam0', 10, 1000);
    const { root, retention, events } = setup(t, archives, { totalBytes: 12_000, minFreePercent: 25 });
    const deleted = await retention.enforce();
    t.same(deleted, archives.slice(0, deleted.length).map(relative), 'a prefix of the archives, oldest first');
    t.equal(deleted.length, 2, 'only as many as needed');
    const free = 12_000 - (await usedBytes(root));
    t.ok(free / 12_000 >= 0.25, 'free space back over the floor');
    t.same(
      events.map((e) => e.reason),
      ['space', 'space'],
    );
    t.same(
      events.map((e) => e.bytes),
      [1000, 1000],
      'the event carries the archive size',
    );
    t.same(
      events.map((e) => e.camera),
      ['cam0', 'cam0'],
    );
    t.equal(events[0]!.ts, new Date(NOW).toISOString());
  });

  t.test('enough free space: nothing deleted', async (t) => {
    const { retention, events } = setup(t, recent('cam0', 3, 1000), { totalBytes: 100_000, minFreePercent: 10 });
    t.same(await retention.enforce(), []);
    t.same(events, []);
  });

  t.test('oldest first across cameras, by start time not by camera name', async (t) => {
    const a = { cam: 'zcam', startMs: NOW - 3 * HOUR, size: 1000 };
    const b = { cam: 'acam', startMs: NOW - 2 * HOUR, size: 1000 };
    const c = { cam: 'zcam', startMs: NOW - HOUR, size: 1000 };
    const { retention } = setup(t, [c, b, a], { totalBytes: 3_600, minFreePercent: 40 });
    t.same(await retention.enforce(), [relative(a), relative(b)]);
  });

  t.test('archives pending analysis go last', async (t) => {
    const archives = recent('cam0', 6, 1000);
    const pendingFiles = new Set([relative(archives[0]!), relative(archives[1]!)]);
    // Used ~6600 of 7000: deleting three archives frees enough for a 50% floor.
    const { retention } = setup(t, archives, {
      totalBytes: 7_000,
      minFreePercent: 50,
      pending: (f) => pendingFiles.has(f),
    });
    t.same(await retention.enforce(), [relative(archives[2]!), relative(archives[3]!), relative(archives[4]!)]);
  });

  t.test('pending archives are still deleted when nothing else is left', async (t) => {
    const archives = recent('cam0', 3, 1000);
    const { retention } = setup(t, archives, {
      totalBytes: 3_400,
      minFreePercent: 90,
      pending: (f) => f === relative(archives[0]!),
    });
    t.same(await retention.enforce(), [relative(archives[1]!), relative(archives[2]!), relative(archives[0]!)]);
  });

  t.test('age first, then space; each reason on its event', async (t) => {
    const old = { cam: 'cam0', startMs: NOW - 30 * HOUR, size: 1000 };
    const archives = [old, ...recent('cam0', 4, 1000)];
    const { retention, events } = setup(t, archives, { totalBytes: 5_000, minFreePercent: 30 });
    const deleted = await retention.enforce();
    t.same(deleted, [relative(old), relative(archives[1]!)]);
    t.same(
      events.map((e) => e.reason),
      ['age', 'space'],
    );
  });

  t.test('the analysis result goes with its archive', async (t) => {
    const archives = [{ ...recent('cam0', 1, 1000)[0]!, analysis: true }];
    const { root, retention } = setup(t, archives, { totalBytes: 1_000, minFreePercent: 10 });
    await retention.enforce();
    t.same(await readdir(path.join(root, 'cam0', new Date(archives[0]!.startMs).toISOString().slice(0, 10))), []);
  });
});

t.test('never anything in .partial/', async (t) => {
  const oldStamp = stamp(NOW - 100 * HOUR);
  const extra = {
    cam0: {
      '.partial': {
        run1: { [`rec-${oldStamp}.ts`]: 'p'.repeat(2000), 'segments.csv': '', 'run.json': '{}' },
        // Even a file that looks like a finished archive is not retention's while it sits here.
        [`archive_${oldStamp}.mp4`]: 'p'.repeat(2000),
      },
    },
  };
  const { root, retention } = setup(t, recent('cam0', 2, 500), {
    totalBytes: 4_000,
    minFreePercent: 90,
    extra,
    maxAgeHours: 1,
  });
  const deleted = await retention.enforce();
  t.same(deleted, recent('cam0', 2, 500).map(relative), 'every finished archive goes, as the disk stays full');
  t.ok(
    await exists(path.join(root, 'cam0', '.partial', 'run1', `rec-${oldStamp}.ts`)),
    'the recording being written stays',
  );
  t.ok(await exists(path.join(root, 'cam0', '.partial', `archive_${oldStamp}.mp4`)));
});

t.test('files that are not archives are left alone', async (t) => {
  const extra = {
    cam0: {
      '2024-06-01': { 'notes.txt': 'n', 'archive_20240601T000000Z.mp4.part': 'x' },
      'not-a-date': { 'archive_20240601T000000Z.mp4': 'x' },
    },
  };
  const { root, retention } = setup(t, [], { extra, maxAgeHours: 1, totalBytes: 10, minFreePercent: 99 });
  t.same(await retention.enforce(), []);
  t.ok(await exists(path.join(root, 'cam0', 'not-a-date', 'archive_20240601T000000Z.mp4')));
});

t.test('a listener that throws does not stop pruning', async (t) => {
  const archives = [
    { cam: 'cam0', startMs: NOW - 48 * HOUR, size: 10 },
    { cam: 'cam0', startMs: NOW - 47 * HOUR, size: 10 },
  ];
  const root = t.testdir(tree(archives));
  const bus = new EventBus();
  const errors: unknown[] = [];
  bus.onListenerError((error) => errors.push(error));
  bus.on('disk.pruned', () => {
    throw new Error('listener broke');
  });
  const retention = new Retention({
    config: () => ({ archive: { dir: root, maxAgeHours: 24, minFreePercent: 0 } }),
    bus,
    log: silentLogger(),
    now: () => NOW,
    space: fakeDisk(root, 1e6),
  });
  t.equal((await retention.enforce()).length, 2);
  t.equal(errors.length, 2);
});

t.test('hoursLeft', async (t) => {
  /** Archives whose mtime says they ran a full 600 s, so the bitrate is size / 600 bytes per second. */
  async function finishedAt600s(root: string, archives: Spec[]): Promise<void> {
    for (const a of archives) {
      const end = new Date(a.startMs + 600_000);
      await utimes(path.join(root, relative(a)), end, end);
    }
  }
  const cases: Array<[string, number, number, number, number | null]> = [
    // name, archives of 6000 bytes (10 B/s), total disk, floor %, hours
    ['free space above the floor at the recent bitrate', 3, 1_000_000, 10, null],
    ['below the floor already: 0', 3, 20_000, 50, 0],
  ];
  for (const [name, count, totalBytes, floor, explicit] of cases) {
    t.test(name, async (t) => {
      const archives = recent('cam0', count, 6000);
      const { root, retention } = setup(t, archives, { totalBytes, minFreePercent: floor });
      await finishedAt600s(root, archives);
      const used = await usedBytes(root);
      const want = explicit ?? (totalBytes - used - (totalBytes * floor) / 100) / 10 / 3600;
      t.ok(Math.abs((await retention.hoursLeft())! - want) < 1e-9, `about ${want} h`);
    });
  }
  t.test("only each camera's 12 newest archives set its bitrate", async (t) => {
    // 3 older fat archives (60 000 B) then 12 of 6000 B: the rate is 10 B/s.
    const all = recent('cam0', 15, 60_000).map((a, i) => (i < 3 ? a : { ...a, size: 6000 }));
    const { root, retention } = setup(t, all, { totalBytes: 10_000_000, minFreePercent: 0 });
    await finishedAt600s(root, all);
    const used = await usedBytes(root);
    t.ok(Math.abs((await retention.hoursLeft())! - (10_000_000 - used) / 10 / 3600) < 1e-9);
  });
  t.test('every camera recording onto the disk adds its rate: three cameras fill it three times as fast', async (t) => {
    const three = ['cam0', 'cam1', 'cam2'].flatMap((cam) => recent(cam, 3, 6000));
    const { root, retention } = setup(t, three, { totalBytes: 10_000_000, minFreePercent: 0 });
    t.ok(
      Math.abs((await retention.hoursLeft())! - (10_000_000 - (await usedBytes(root))) / 30 / 3600) < 1e-9,
      'three cameras of 10 B/s: 30 B/s, not their average',
    );
  });
  t.test('a camera that stopped recording (its newest archive hours old) adds nothing', async (t) => {
    const gone = recent('cam1', 3, 600_000).map((a) => ({ ...a, startMs: a.startMs - 10 * HOUR }));
    const archives = [...recent('cam0', 3, 6000), ...gone];
    const { root, retention } = setup(t, archives, { totalBytes: 10_000_000, minFreePercent: 0 });
    t.ok(
      Math.abs((await retention.hoursLeft())! - (10_000_000 - (await usedBytes(root))) / 10 / 3600) < 1e-9,
      'cam0 alone: 10 B/s',
    );
  });
  t.test('only stopped cameras: null (nothing records)', async (t) => {
    const { retention } = setup(
      t,
      recent('cam0', 3, 6000).map((a) => ({ ...a, startMs: a.startMs - 10 * HOUR })),
    );
    t.equal(await retention.hoursLeft(), null);
  });
  t.test('no archives yet: null', async (t) => {
    const { retention } = setup(t, []);
    t.equal(await retention.hoursLeft(), null);
  });
});

t.test(
  'start() and stop(): a pass at start, after every finished or recovered archive, none once stopped',
  async (t) => {
    const old: Spec = { cam: 'cam0', startMs: NOW - 30 * HOUR, size: 100 };
    const young = recent('cam0', 3, 100);
    const { root, retention, events } = setup(t, [old, ...young], { maxAgeHours: 24, minFreePercent: 0 });
    const bus = (retention as unknown as { deps: { bus: EventBus } }).deps.bus;
    const pruned = () =>
      new Promise<void>((resolve) => {
        const off = bus.on('disk.pruned', () => {
          off();
          resolve();
        });
      });
    const first = pruned();
    retention.start();
    await first;
    t.same(
      events.map((e) => e.file),
      [relative(old)],
      'the pass at start deleted the archive older than maxAgeHours',
    );

    // Archives are named by their start; a second old one appears, and an event asks for a pass.
    const second: Spec = { cam: 'cam1', startMs: NOW - 40 * HOUR, size: 100 };
    const [cam, date, name] = relative(second).split('/') as [string, string, string];
    await mkdir(path.join(root, cam, date), { recursive: true });
    await writeFile(path.join(root, cam, date, name), 'x');
    const next = pruned();
    bus.emit('archive.recovered', {
      camera: cam,
      file: relative(second),
      start: new Date(second.startMs).toISOString(),
      seconds: 600,
      bytes: 1,
      clockSynced: true,
      reason: 'unclean stop',
    });
    await next;
    t.same(
      events.map((e) => e.file),
      [relative(old), relative(second)],
      'archive.recovered ran a pass',
    );

    await retention.stop();
    t.type(retention.recordingHoursLeft(), 'number', 'each pass measures the hours of recording left');
    const third: Spec = { cam: 'cam2', startMs: NOW - 50 * HOUR, size: 100 };
    const [cam3, date3, name3] = relative(third).split('/') as [string, string, string];
    await mkdir(path.join(root, cam3, date3), { recursive: true });
    await writeFile(path.join(root, cam3, date3, name3), 'x');
    bus.emit('archive.finished', {
      camera: cam3,
      file: relative(third),
      start: new Date(third.startMs).toISOString(),
      seconds: 600,
      bytes: 1,
      clockSynced: true,
    });
    await retention.stop(); // resolves once any pass the event could have started has ended
    t.ok(await exists(path.join(root, cam3, date3, name3)), 'stopped: an archive event runs no pass');
    t.equal(events.length, 2);
  },
);

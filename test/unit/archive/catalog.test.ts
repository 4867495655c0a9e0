import { mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { archiveDates, DiskArchiveCatalog, newestArchives } from '../../../agent/archive/catalog.js';

function sidecar(start: string, seconds: number, clockSynced: boolean): string {
  return JSON.stringify({ start, seconds, clockSynced, recovered: false });
}

// Two cameras over two days, sidecars for most, an analysis for one, an unsynced one.
const TREE = {
  cam0: {
    '2024-06-09': {
      'archive_20240609T235000Z.mp4': 'a'.repeat(10),
      'archive_20240609T235000Z.json': sidecar('2024-06-09T23:50:00.000Z', 600, true),
    },
    '2024-06-10': {
      'archive_20240610T000000Z.mp4': 'b'.repeat(20),
      'archive_20240610T000000Z.json': sidecar('2024-06-10T00:00:00.000Z', 600, true),
      'archive_20240610T000000Z.analysis.json': '{"summary":"a cat"}',
      // A clock stepped back: a second archive for the same start.
      'archive_20240610T000000Z-1.mp4': 'c'.repeat(30),
      'archive_20240610T000000Z-1.json': sidecar('2024-06-10T00:00:00.000Z', 412.5, false),
      'archive_20240610T001000Z.mp4': 'd'.repeat(40),
      // no sidecar: start from the name, 0 s, clock assumed synced
      '.archive_20240610T002000Z.mp4.part': 'partial',
      'notes.txt': 'not an archive',
    },
    '.partial': { run1: { 'rec-20240610T002000Z.ts': 'ts' } },
    misc: { 'archive_20240610T003000Z.mp4': 'not in a date folder' },
  },
  cam1: {
    '2024-06-10': {
      'archive_20240610T000500Z.mp4': 'e'.repeat(50),
      'archive_20240610T000500Z.json': sidecar('2024-06-10T00:05:00.000Z', 600, true),
    },
  },
  '.hidden': { '2024-06-10': { 'archive_20240610T009000Z.mp4': 'x' } },
};

t.test('list', async (t) => {
  const catalog = new DiskArchiveCatalog(() => t.testdir(TREE));
  const cases: Array<[string, { camera?: string; limit?: number }, string[]]> = [
    [
      'every camera, newest first; partials, temp files and stray folders left out',
      {},
      [
        'cam0/2024-06-10/archive_20240610T001000Z.mp4',
        'cam1/2024-06-10/archive_20240610T000500Z.mp4',
        'cam0/2024-06-10/archive_20240610T000000Z-1.mp4',
        'cam0/2024-06-10/archive_20240610T000000Z.mp4',
        'cam0/2024-06-09/archive_20240609T235000Z.mp4',
      ],
    ],
    [
      'limit keeps the newest',
      { limit: 2 },
      ['cam0/2024-06-10/archive_20240610T001000Z.mp4', 'cam1/2024-06-10/archive_20240610T000500Z.mp4'],
    ],
    ['camera filter', { camera: 'cam1' }, ['cam1/2024-06-10/archive_20240610T000500Z.mp4']],
    ['camera filter with limit', { camera: 'cam0', limit: 1 }, ['cam0/2024-06-10/archive_20240610T001000Z.mp4']],
    ['an unknown camera: empty', { camera: 'cam9' }, []],
  ];
  for (const [name, query, want] of cases) {
    t.test(name, async (t) => {
      const files = (await catalog.list(query)).map((e) => e.file);
      // Duplicates of one start time tie on time; their order is catalog-duplicates.test.ts's concern.
      t.same([...files].sort(), [...want].sort(), 'the same archives');
      const starts = files.map((f) => f.replace(/^.*archive_(\w+?)(-\d+)?\.mp4$/, '$1'));
      t.same(
        starts,
        want.map((f) => f.replace(/^.*archive_(\w+?)(-\d+)?\.mp4$/, '$1')),
        'newest start first',
      );
    });
  }

  t.test('entries: sidecar fields, size, analysed flag, clockSynced', async (t) => {
    const byFile = new Map((await catalog.list({})).map((e) => [e.file, e]));
    t.same(
      byFile.get('cam0/2024-06-10/archive_20240610T000000Z.mp4'),
      {
        camera: 'cam0',
        file: 'cam0/2024-06-10/archive_20240610T000000Z.mp4',
        start: '2024-06-10T00:00:00.000Z',
        seconds: 600,
        bytes: 20,
        analysed: true,
        clockSynced: true,
      },
      'analysed when <name>.analysis.json is beside it',
    );
    t.same(
      byFile.get('cam0/2024-06-10/archive_20240610T000000Z-1.mp4'),
      {
        camera: 'cam0',
        file: 'cam0/2024-06-10/archive_20240610T000000Z-1.mp4',
        start: '2024-06-10T00:00:00.000Z',
        seconds: 412.5,
        bytes: 30,
        analysed: false,
        clockSynced: false,
      },
      'the duplicate has its own sidecar (recorded before the clock synced), no analysis',
    );
    t.same(
      byFile.get('cam0/2024-06-10/archive_20240610T001000Z.mp4'),
      {
        camera: 'cam0',
        file: 'cam0/2024-06-10/archive_20240610T001000Z.mp4',
        start: '2024-06-10T00:10:00.000Z',
        seconds: 0,
        bytes: 40,
        analysed: false,
        clockSynced: true,
      },
      'no sidecar: start from the name',
    );
  });

  t.test('a broken sidecar counts as none', async (t) => {
    const root = t.testdir({
      cam0: { '2024-06-10': { 'archive_20240610T000000Z.mp4': 'x', 'archive_20240610T000000Z.json': '{not json' } },
    });
    const [entry] = await new DiskArchiveCatalog(() => root).list({});
    t.match(entry, { start: '2024-06-10T00:00:00.000Z', seconds: 0, clockSynced: true, bytes: 1 });
  });

  t.test('a missing root lists nothing', async (t) => {
    t.same(await new DiskArchiveCatalog(() => path.join(t.testdir(), 'absent')).list({}), []);
  });
});

t.test('resolve', async (t) => {
  const base = t.testdir({
    archive: TREE,
    outside: { 'archive_20240610T000000Z.mp4': 'secret', '2024-06-10': { 'archive_20240610T000000Z.mp4': 'secret' } },
  });
  const root = path.join(base, 'archive');
  // Symlinks planted in the tree: a file, a date folder and a camera folder pointing outside, and one inside.
  await mkdir(path.join(root, 'cam2', '2024-06-10'), { recursive: true });
  await symlink(
    path.join(base, 'outside', 'archive_20240610T000000Z.mp4'),
    path.join(root, 'cam2', '2024-06-10', 'archive_20240610T000000Z.mp4'),
  );
  await symlink(path.join(base, 'outside', '2024-06-10'), path.join(root, 'cam2', '2024-06-11'));
  await symlink(path.join(base, 'outside'), path.join(root, 'cam3'));
  await symlink(
    path.join(root, 'cam0', '2024-06-10', 'archive_20240610T001000Z.mp4'),
    path.join(root, 'cam2', '2024-06-10', 'archive_20240610T001000Z.mp4'),
  );
  const catalog = new DiskArchiveCatalog(() => root);
  const real = await realpath(root);

  const cases: Array<[string, string, string | null]> = [
    [
      'an existing archive',
      'cam0/2024-06-10/archive_20240610T000000Z.mp4',
      path.join(real, 'cam0/2024-06-10/archive_20240610T000000Z.mp4'),
    ],
    [
      'a -1 duplicate',
      'cam0/2024-06-10/archive_20240610T000000Z-1.mp4',
      path.join(real, 'cam0/2024-06-10/archive_20240610T000000Z-1.mp4'),
    ],
    ['a well-formed name that does not exist', 'cam0/2024-06-10/archive_20240610T235000Z.mp4', null],
    ['traversal with ..', 'cam0/../../outside/archive_20240610T000000Z.mp4', null],
    ['.. as the camera', '../2024-06-10/archive_20240610T000000Z.mp4', null],
    ['.. as the date', 'cam0/../archive_20240610T000000Z.mp4', null],
    ['an absolute path', path.join(base, 'outside', 'archive_20240610T000000Z.mp4'), null],
    ['a leading slash on a good name', '/cam0/2024-06-10/archive_20240610T000000Z.mp4', null],
    ['the sidecar, not an archive', 'cam0/2024-06-10/archive_20240610T000000Z.json', null],
    ['a temp file', 'cam0/2024-06-10/.archive_20240610T002000Z.mp4.part', null],
    ['a partial recording', 'cam0/.partial/run1/rec-20240610T002000Z.ts', null],
    ['too few parts', '2024-06-10/archive_20240610T000000Z.mp4', null],
    ['too many parts', 'cam0/x/2024-06-10/archive_20240610T000000Z.mp4', null],
    ['a bad date folder', 'cam0/20240610/archive_20240610T000000Z.mp4', null],
    ['backslashes', 'cam0\\2024-06-10\\archive_20240610T000000Z.mp4', null],
    ['an empty string', '', null],
    ['a symlinked archive leading outside the root', 'cam2/2024-06-10/archive_20240610T000000Z.mp4', null],
    ['a symlinked date folder leading outside the root', 'cam2/2024-06-11/archive_20240610T000000Z.mp4', null],
    ['a symlinked camera folder leading outside the root', 'cam3/2024-06-10/archive_20240610T000000Z.mp4', null],
    [
      'a symlink inside the root resolves to its target',
      'cam2/2024-06-10/archive_20240610T001000Z.mp4',
      path.join(real, 'cam0/2024-06-10/archive_20240610T001000Z.mp4'),
    ],
  ];
  for (const [name, file, want] of cases) t.test(name, async (t) => t.equal(await catalog.resolve(file), want));

  t.test('a root reached through a symlink still resolves its own archives', async (t) => {
    const link = path.join(base, 'archive-link');
    await symlink(root, link);
    t.equal(
      await new DiskArchiveCatalog(() => link).resolve('cam1/2024-06-10/archive_20240610T000500Z.mp4'),
      path.join(real, 'cam1/2024-06-10/archive_20240610T000500Z.mp4'),
    );
  });

  t.test("a sibling folder sharing the root's prefix is outside", async (t) => {
    // <base>/archive2 starts with "<base>/archive" but is not under it.
    await mkdir(path.join(base, 'archive2', '2024-06-10'), { recursive: true });
    await writeFile(path.join(base, 'archive2', '2024-06-10', 'archive_20240610T000000Z.mp4'), 'x');
    await symlink(path.join(base, 'archive2'), path.join(root, 'cam4'));
    t.equal(await catalog.resolve('cam4/2024-06-10/archive_20240610T000000Z.mp4'), null);
  });
});

t.test('archiveDates and newestArchives read only as many days as they need', async (t) => {
  const root = t.testdir(TREE);
  t.same(
    await archiveDates(root),
    ['2024-06-09', '2024-06-10'],
    'date folders of every camera, oldest first; no misc, no hidden camera',
  );
  const names = (files: Array<{ file: string }>) => files.map((f) => f.file);
  t.same(
    names(await newestArchives(root, 2)),
    ['cam1/2024-06-10/archive_20240610T000500Z.mp4', 'cam0/2024-06-10/archive_20240610T001000Z.mp4'],
    'the two newest, oldest first',
  );
  t.same(
    names(await newestArchives(root, 4, 'cam0')),
    [
      'cam0/2024-06-09/archive_20240609T235000Z.mp4',
      'cam0/2024-06-10/archive_20240610T000000Z.mp4',
      'cam0/2024-06-10/archive_20240610T000000Z-1.mp4',
      'cam0/2024-06-10/archive_20240610T001000Z.mp4',
    ],
    'one camera, across two days, the clock-step duplicate after its original',
  );
  t.equal((await newestArchives(root, 100)).length, 5, 'fewer than asked: all there are');
  t.same(await newestArchives(path.join(root, 'nothing-here'), 3), [], 'no archive folder yet');
});

import t from 'tap';
import { createCommands } from '../../../agent/commands/index.js';
import type { CommandTable } from '../../../agent/commands/types.js';
import { ARCHIVES, FakeConfig, fakeCommandDeps, testConfig } from '../../helpers/agentFakes.js';

async function run(table: CommandTable, name: string, body: Record<string, unknown>): Promise<unknown> {
  const spec = table[name]!;
  return spec.run(spec.parse(body), { signed: false });
}

function setup(withAnalysis = true) {
  const config = new FakeConfig(testConfig());
  const fakes = fakeCommandDeps(config, withAnalysis);
  return { config, ...fakes, table: createCommands(fakes.deps) };
}

const good: Array<[string, string, Record<string, unknown>, unknown]> = [
  ['ping answers pong, version, uptime', 'ping', {}, { pong: true, version: '0.1.0-test', uptime: 5 }],
  [
    'get-config returns the redacted config',
    'get-config',
    {},
    { device: { id: 'gate-01' }, mqtt: { passwordFile: '[redacted]' } },
  ],
  [
    'set-config applies and reports changed keys',
    'set-config',
    { set: { 'cameras[0].fps': 15 } },
    { changed: ['cameras[0].fps'] },
  ],
  ['restart-pipeline without camera restarts all', 'restart-pipeline', {}, { restarted: ['cam1', 'cam2'] }],
  ['restart-pipeline with camera restarts one', 'restart-pipeline', { camera: 'cam2' }, { restarted: ['cam2'] }],
  [
    'snapshot returns base64 JPEG and size',
    'snapshot',
    { camera: 'cam1' },
    { camera: 'cam1', jpegBase64: '/9j/2Q==', width: 320, height: 240 },
  ],
  [
    'list-archives lists newest first with the contract fields',
    'list-archives',
    { camera: 'cam1', limit: 1 },
    [
      {
        camera: 'cam1',
        file: ARCHIVES[0]!.file,
        start: ARCHIVES[0]!.start,
        seconds: 600,
        bytes: 1000,
        analysed: false,
      },
    ],
  ],
  ['analyze queues a known archive', 'analyze', { camera: 'cam1', file: ARCHIVES[1]!.file }, { queued: true }],
  ['probe returns the probe report', 'probe', {}, { encoders: [{ name: 'libx264', works: true }] }],
];
for (const [name, command, body, expected] of good) {
  t.test(name, async (t) => {
    const { table } = setup();
    t.match(await run(table, command, body), expected);
  });
}

const bad: Array<[string, string, Record<string, unknown>, string, RegExp?]> = [
  ['ping with a field', 'ping', { x: 1 }, 'bad_request', /unknown field "x"/],
  ['get-config with a field', 'get-config', { all: true }, 'bad_request'],
  ['set-config without set', 'set-config', {}, 'bad_request', /set must be an object/],
  ['set-config with set as array', 'set-config', { set: [] }, 'bad_request'],
  ['set-config with no keys', 'set-config', { set: {} }, 'bad_request'],
  ['set-config with a prototype key', 'set-config', { set: { '__proto__.x': 1 } }, 'bad_request'],
  ['set-config with a key that is not a path', 'set-config', { set: { 'a b': 1 } }, 'bad_request'],
  [
    'set-config invalid value (config module refuses)',
    'set-config',
    { set: { 'cameras[0].fps': 0 } },
    'config_invalid',
  ],
  ['set-config unknown key (config module refuses)', 'set-config', { set: { 'nope.key': 1 } }, 'config_invalid'],
  ['restart-pipeline unknown camera', 'restart-pipeline', { camera: 'cam9' }, 'not_found'],
  ['restart-pipeline camera not a string', 'restart-pipeline', { camera: 1 }, 'bad_request'],
  ['snapshot with a path as camera', 'snapshot', { camera: '../etc' }, 'bad_request'],
  ['list-archives limit 0', 'list-archives', { limit: 0 }, 'bad_request'],
  ['list-archives limit not an integer', 'list-archives', { limit: 1.5 }, 'bad_request'],
  ['analyze without file', 'analyze', { camera: 'cam1' }, 'bad_request'],
  ['analyze with traversal', 'analyze', { camera: 'cam1', file: 'cam1/../../etc/passwd' }, 'bad_request'],
  ['analyze a file of another camera', 'analyze', { camera: 'cam2', file: ARCHIVES[0]!.file }, 'bad_request'],
  [
    'analyze an archive that does not exist',
    'analyze',
    { camera: 'cam1', file: 'cam1/2025-01-02/archive_20250102T000000Z.mp4' },
    'not_found',
  ],
  ['probe with a field', 'probe', { deep: true }, 'bad_request'],
];
for (const [name, command, body, code, message] of bad) {
  t.test(`refused: ${name}; nothing changes`, async (t) => {
    const { table, config, pipeline, queued } = setup();
    const before = JSON.stringify(config.current());
    await t.rejects(run(table, command, body), { code, ...(message ? { message } : {}) });
    t.equal(JSON.stringify(config.current()), before);
    t.same(pipeline.restarts, []);
    t.same(queued, []);
  });
}

t.test('analyze while analysis is off is refused', async (t) => {
  const { table } = setup(false);
  await t.rejects(run(table, 'analyze', { camera: 'cam1', file: ARCHIVES[1]!.file }), {
    code: 'bad_request',
    message: /analysis is disabled/,
  });
});

t.test('concurrent set-config requests apply one after the other', async (t) => {
  const { table, config } = setup();
  await Promise.all([
    run(table, 'set-config', { set: { 'cameras[0].fps': 12 } }),
    run(table, 'set-config', { set: { 'cameras[0].fps': 0 } }).catch(() => 'refused'),
    run(table, 'set-config', { set: { 'cameras[1].fps': 20 } }),
  ]);
  t.equal(config.current().cameras[0]!.fps, 12);
  t.equal(config.current().cameras[1]!.fps, 20);
  t.equal(config.sets.length, 2);
});

t.test('search: the same checked fields as GET /api/search; bad input is bad_request; no index, refused', async (t) => {
  const { deps } = setup();
  const asked: unknown[] = [];
  const hit = {
    camera: 'cam1',
    archive: ARCHIVES[0]!.file,
    start: ARCHIVES[0]!.start,
    offsetSeconds: 12,
    summary: 's',
    label: 'person',
    description: 'd',
  };
  const table = createCommands({ ...deps, search: { search: (query) => (asked.push(query), [hit]) } });
  t.same(await run(table, 'search', { q: 'person', camera: 'cam1', from: '2025-01-01T00:00:00Z', limit: 5 }), [hit]);
  t.same(asked, [{ q: 'person', camera: 'cam1', fromMs: Date.parse('2025-01-01T00:00:00Z'), limit: 5 }]);
  await t.rejects(run(table, 'search', {}), { code: 'bad_request', message: /^q must be a text/ });
  await t.rejects(run(table, 'search', { q: 'x', limit: 1000 }), {
    code: 'bad_request',
    message: /^limit must be an integer from 1 to 100/,
  });
  await t.rejects(run(table, 'search', { q: 'x', page: 2 }), { code: 'bad_request', message: /unknown field "page"/ });
  await t.rejects(run(createCommands(deps), 'search', { q: 'x' }), {
    code: 'bad_request',
    message: /search is not available/,
  });
});

t.test('list-archives without a limit asks the catalog for 100; without a camera, for every camera', async (t) => {
  const config = new FakeConfig(testConfig());
  const { deps } = fakeCommandDeps(config);
  const asked: Array<{ camera?: string; limit?: number }> = [];
  deps.archives = { ...deps.archives, list: async (query) => (asked.push(query), []) };
  t.same(await run(createCommands(deps), 'list-archives', {}), []);
  t.same(asked, [{ camera: undefined, limit: 100 }]);
});

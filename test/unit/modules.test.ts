import t from 'tap';
import type { ChangePlan, ModuleName } from '../../agent/config/diff.js';
import { ModuleTable, type AgentModule } from '../../agent/modules.js';
import { EventBus } from '../../agent/util/bus.js';
import { silentLogger } from '../../agent/util/logger.js';

/** A table over named modules that record what happens to them, in one shared log. */
function table(
  specs: Array<{ name: string; slice: ModuleName; inPlace?: boolean; failStart?: boolean; failStop?: boolean }>,
) {
  const calls: string[] = [];
  const bus = new EventBus();
  const delivered: string[] = [];
  bus.on('pipeline.started', (e) => delivered.push(e.camera));
  const modules: AgentModule[] = specs.map((spec) => ({
    name: spec.name,
    slice: spec.slice,
    start: () => {
      calls.push(`start ${spec.name}`);
      // An event emitted while the table works waits for every module to be attached.
      bus.emit('pipeline.started', { camera: spec.name, encoder: 'libx264', source: 'test', pid: 1 });
      calls.push(`delivered ${delivered.length}`);
      if (spec.failStart) throw new Error(`${spec.name} cannot start`);
    },
    stop: () => {
      calls.push(`stop ${spec.name}`);
      if (spec.failStop) throw new Error(`${spec.name} cannot stop`);
    },
    ...(spec.inPlace !== undefined
      ? { applyInPlace: () => (calls.push(`in place ${spec.name}`), spec.inPlace === true) }
      : {}),
  }));
  return { modules: new ModuleTable(modules, { bus, log: silentLogger() }), calls, delivered };
}

const plan = (modules: ModuleName[], cameras: ChangePlan['cameras'] = 'all'): ChangePlan => ({
  keys: ['x'],
  modules: new Set(modules),
  cameras,
});

const SPECS = [
  { name: 'outbox', slice: 'device' as const },
  { name: 'publisher', slice: 'health' as const, inPlace: true },
  { name: 'link', slice: 'mqtt' as const },
  { name: 'pipeline', slice: 'pipeline' as const, inPlace: false },
  { name: 'http', slice: 'http' as const },
];

t.test('start: table order, events held until the last module is attached', async (t) => {
  const { modules, calls, delivered } = table(SPECS);
  await modules.start();
  t.same(
    calls.filter((c) => c.startsWith('start')),
    ['start outbox', 'start publisher', 'start link', 'start pipeline', 'start http'],
  );
  t.same(
    calls.filter((c) => c.startsWith('delivered')),
    Array(5).fill('delivered 0'),
    'nothing delivered while starting',
  );
  t.same(delivered, ['outbox', 'publisher', 'link', 'pipeline', 'http'], 'then everything, in order');
});

t.test('stop: reverse order, and one failing stop does not keep the others running', async (t) => {
  const { modules, calls } = table(SPECS.map((s) => (s.name === 'link' ? { ...s, failStop: true } : s)));
  await modules.stop();
  t.same(calls, ['stop http', 'stop pipeline', 'stop link', 'stop publisher', 'stop outbox']);
});

const CHANGES: Array<[string, ChangePlan, string[]]> = [
  ['mqtt: only the link restarts', plan(['mqtt']), ['stop link', 'start link']],
  ['health: the publisher takes it in place', plan(['health']), ['in place publisher']],
  [
    'pipeline refusing in place: restarted',
    plan(['pipeline']),
    ['in place pipeline', 'stop pipeline', 'start pipeline'],
  ],
  [
    'pipeline and http: stopped in reverse, started in order',
    plan(['pipeline', 'http']),
    ['in place pipeline', 'stop http', 'stop pipeline', 'start pipeline', 'start http'],
  ],
  ['archive: no module on that slice here, nothing happens', plan(['archive']), []],
  [
    'device: every module restarts, none in place',
    plan(['device']),
    [
      'stop http',
      'stop pipeline',
      'stop link',
      'stop publisher',
      'stop outbox',
      'start outbox',
      'start publisher',
      'start link',
      'start pipeline',
      'start http',
    ],
  ],
];

for (const [name, change, expected] of CHANGES) {
  t.test(`apply, ${name}`, async (t) => {
    const { modules, calls } = table(SPECS);
    await modules.apply(change);
    t.same(
      calls.filter((c) => !c.startsWith('delivered')),
      expected,
    );
  });
}

t.test(
  'apply: a module that fails to start fails the change (the config service reverts it), and the bus is released',
  async (t) => {
    const { modules, calls, delivered } = table(SPECS.map((s) => (s.name === 'link' ? { ...s, failStart: true } : s)));
    await t.rejects(modules.apply(plan(['mqtt'])), /link cannot start/);
    t.same(
      calls.filter((c) => !c.startsWith('delivered')),
      ['stop link', 'start link'],
    );
    t.same(delivered, ['link'], 'what it emitted before failing is delivered, not held for ever');
  },
);

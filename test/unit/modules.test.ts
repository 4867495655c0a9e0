import t from 'tap';
import type { ChangePlan, ModuleName } from '../../agent/config/diff.js';
import { ModuleTable, type AgentModule } from '../../agent/modules.js';
import { EventBus } from '../../agent/util/bus.js';
import { silentLogger } from '../../agent/util/logger.js';
import { waitFor } from '../helpers/waitFor.js';

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

/** A module started ahead whose start ends when the test says, or fails. */
function aheadModule(calls: string[]) {
  let finish: (error?: Error) => void = () => undefined;
  const started = new Promise<void>((resolve, reject) => {
    finish = (error) => (error ? reject(error) : resolve());
  });
  const module: AgentModule = {
    name: 'pipeline',
    slice: 'pipeline',
    startAhead: true,
    start: async () => {
      calls.push('start pipeline');
      await started;
      calls.push('pipeline started');
    },
    stop: () => undefined,
  };
  return { module, finish };
}

function recorded(calls: string[], name: string, fail = false): AgentModule {
  return {
    name,
    slice: 'http',
    start: () => {
      calls.push(`start ${name}`);
      if (fail) throw new Error(`${name} cannot start`);
    },
    stop: () => undefined,
  };
}

t.test('start ahead: first, and the modules before it in the table wait until it has started', async (t) => {
  const calls: string[] = [];
  const ahead = aheadModule(calls);
  const modules = new ModuleTable([recorded(calls, 'outbox'), ahead.module, recorded(calls, 'http')], {
    bus: new EventBus(),
    log: silentLogger(),
    headStartMs: 60_000,
  });
  const starting = modules.start();
  await new Promise((resolve) => setImmediate(resolve));
  t.same(calls, ['start pipeline'], 'nothing else starts while it does');
  ahead.finish();
  await starting;
  t.same(calls, ['start pipeline', 'pipeline started', 'start outbox', 'start http']);
});

t.test('start ahead: a slow start holds the others back at most the head start', async (t) => {
  const calls: string[] = [];
  const ahead = aheadModule(calls);
  const bus = new EventBus();
  const delivered: string[] = [];
  bus.on('pipeline.started', (e) => delivered.push(e.camera));
  const modules = new ModuleTable([recorded(calls, 'outbox'), ahead.module], {
    bus,
    log: silentLogger(),
    headStartMs: 20,
  });
  let done = false;
  const starting = modules.start().then(() => (done = true));
  bus.emit('pipeline.started', { camera: 'cam1', encoder: 'libx264', source: 'test', pid: 1 });
  await waitFor('the others started', () => calls.includes('start outbox'), 5000);
  t.equal(done, false, 'the start is not over while the slow module starts');
  t.same(delivered, [], 'and its events are held');
  ahead.finish();
  await starting;
  t.same(calls, ['start pipeline', 'start outbox', 'pipeline started']);
  t.same(delivered, ['cam1'], 'delivered once every module has started');
});

t.test('start ahead: its failure fails the start once the others have started', async (t) => {
  const calls: string[] = [];
  const ahead = aheadModule(calls);
  const modules = new ModuleTable([ahead.module, recorded(calls, 'http')], {
    bus: new EventBus(),
    log: silentLogger(),
  });
  ahead.finish(new Error('no camera'));
  await t.rejects(modules.start(), /no camera/);
  t.same(calls, ['start pipeline', 'start http']);
});

t.test('start ahead: another module failing fails the start only when the ahead one has ended', async (t) => {
  const calls: string[] = [];
  const ahead = aheadModule(calls);
  const modules = new ModuleTable([ahead.module, recorded(calls, 'http', true)], {
    bus: new EventBus(),
    log: silentLogger(),
    headStartMs: 10,
  });
  let failed = false;
  const starting = modules.start().catch((error: Error) => {
    failed = true;
    return error;
  });
  await waitFor('http tried', () => calls.includes('start http'), 5000);
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(failed, false, 'still waiting for the module started ahead');
  ahead.finish();
  t.match(await starting, /http cannot start/);
  t.same(calls, ['start pipeline', 'start http', 'pipeline started']);
});

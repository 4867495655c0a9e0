import t from 'tap';
import type { AgentEvent } from '../../../agent/contract/events.js';
import { EventBus } from '../../../agent/util/bus.js';

const NOW = new Date('2024-06-10T06:10:00.123Z');
const PRUNED = {
  camera: 'cam0',
  file: 'cam0/2024-06-10/archive_20240610T061000Z.mp4',
  bytes: 10,
  reason: 'age',
} as const;

t.test('typed delivery', async (t) => {
  const bus = new EventBus(() => NOW);
  const pruned: Array<AgentEvent<'disk.pruned'>> = [];
  const changed: Array<AgentEvent<'config.changed'>> = [];
  bus.on('disk.pruned', (e) => pruned.push(e));
  bus.on('config.changed', (e) => changed.push(e));
  const returned = bus.emit('disk.pruned', PRUNED);
  t.same(
    pruned,
    [{ type: 'disk.pruned', ...PRUNED, ts: '2024-06-10T06:10:00.123Z' }],
    'payload, type and the injected time',
  );
  t.equal(returned, pruned[0], 'emit returns the event as delivered');
  t.same(changed, [], 'other types do not hear it');
});

t.test('onAny hears every type, after the typed listeners', async (t) => {
  const bus = new EventBus(() => NOW);
  const order: string[] = [];
  bus.onAny((e) => order.push(`any:${e.type}`));
  bus.on('disk.pruned', () => order.push('typed:disk.pruned'));
  bus.emit('disk.pruned', PRUNED);
  bus.emit('config.changed', { keys: [] });
  t.same(order, ['typed:disk.pruned', 'any:disk.pruned', 'any:config.changed']);
});

t.test('unsubscribe', async (t) => {
  const bus = new EventBus(() => NOW);
  let typed = 0;
  let any = 0;
  const offTyped = bus.on('config.changed', () => (typed += 1));
  const offAny = bus.onAny(() => (any += 1));
  bus.emit('config.changed', { keys: [] });
  offTyped();
  offAny();
  bus.emit('config.changed', { keys: [] });
  t.same([typed, any], [1, 1]);
});

t.test('a throwing listener', async (t) => {
  const bus = new EventBus(() => NOW);
  const reported: Array<[unknown, AgentEvent]> = [];
  bus.onListenerError((error, event) => reported.push([error, event]));
  const heard: string[] = [];
  const boom = new Error('listener broke');
  bus.on('disk.pruned', () => {
    throw boom;
  });
  bus.on('disk.pruned', () => heard.push('second'));
  bus.onAny(() => heard.push('any'));
  t.doesNotThrow(() => bus.emit('disk.pruned', PRUNED), 'never reaches the emitter');
  t.same(heard, ['second', 'any'], 'later listeners still run');
  t.equal(reported.length, 1);
  t.equal(reported[0]![0], boom, 'the error is reported');
  t.match(reported[0]![1], { type: 'disk.pruned', file: PRUNED.file });
});

t.test('a throwing onAny listener is reported too', async (t) => {
  const bus = new EventBus(() => NOW);
  const reported: unknown[] = [];
  bus.onListenerError((error) => reported.push(error));
  bus.onAny(() => {
    throw new Error('any broke');
  });
  t.doesNotThrow(() => bus.emit('config.changed', { keys: [] }));
  t.match(reported, [{ message: 'any broke' }]);
});

t.test('a throwing listener with no error handler is swallowed', async (t) => {
  const bus = new EventBus(() => NOW);
  bus.on('config.changed', () => {
    throw new Error('nobody listens for this');
  });
  t.doesNotThrow(() => bus.emit('config.changed', { keys: [] }));
});

t.test('many listeners do not warn', async (t) => {
  const bus = new EventBus(() => NOW);
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  for (let i = 0; i < 30; i += 1) bus.on('config.changed', () => undefined);
  await new Promise((resolve) => setImmediate(resolve));
  process.off('warning', onWarning);
  t.same(
    warnings.filter((w) => w.name === 'MaxListenersExceededWarning'),
    [],
  );
});

t.test('default clock: now', async (t) => {
  const before = Date.now();
  const event = new EventBus().emit('config.changed', { keys: [] });
  t.ok(Date.parse(event.ts) >= before && Date.parse(event.ts) <= Date.now());
});

t.test('hold keeps events, in order and with their own time, until the last release', async (t) => {
  let now = NOW;
  const bus = new EventBus(() => now);
  bus.hold();
  bus.emit('disk.pruned', PRUNED);
  now = new Date(NOW.getTime() + 1000);
  bus.emit('disk.pruned', { ...PRUNED, bytes: 20 });
  // A consumer that attaches during start-up, after the events happened, still hears them.
  const heard: Array<AgentEvent<'disk.pruned'>> = [];
  const any: string[] = [];
  bus.on('disk.pruned', (e) => heard.push(e));
  bus.onAny((e) => any.push(e.type));
  bus.hold();
  bus.release();
  t.same(heard, [], 'an inner release (a module restart within start-up) delivers nothing yet');
  bus.release();
  t.same(
    heard.map((e) => [e.bytes, e.ts]),
    [
      [10, '2024-06-10T06:10:00.123Z'],
      [20, '2024-06-10T06:10:01.123Z'],
    ],
    'both, in order, stamped when they happened',
  );
  t.same(any, ['disk.pruned', 'disk.pruned']);
  bus.emit('disk.pruned', PRUNED);
  t.equal(heard.length, 3, 'after the release, events flow at once');
  bus.release();
  bus.emit('disk.pruned', PRUNED);
  t.equal(heard.length, 4, 'an extra release is harmless');
});

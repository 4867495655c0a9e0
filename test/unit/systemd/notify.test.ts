import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import {
  chooseTransport,
  DgramTransport,
  loadDgramSocket,
  PerlTransport,
  SystemdNotifier,
  WatchdogPetter,
  watchdogIntervalMs,
  type NotifyTransport,
} from '../../../agent/systemd/notify.js';
import { FakeNotifySocket } from '../../helpers/fakeNotifySocket.js';
import { manualClock } from '../../helpers/manualClock.js';

// Unix socket paths are limited to 108 bytes: t.testdir() paths can be longer.
function socketDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'notify-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function fakeSocket(t: Test, path = join(socketDir(t), 'notify.sock')): FakeNotifySocket {
  const socket = new FakeNotifySocket(path);
  t.teardown(() => socket.close());
  return socket;
}

t.test('watchdogIntervalMs', async (t) => {
  const cases: Array<[string, NodeJS.ProcessEnv, number | null]> = [
    ['no watchdog configured', {}, null],
    ['30 s watchdog pings every 15 s', { WATCHDOG_USEC: '30000000' }, 15000],
    ['watchdog for this pid', { WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 15000],
    ['watchdog meant for another pid', { WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, null],
    ['garbage value', { WATCHDOG_USEC: 'soon' }, null],
    ['zero', { WATCHDOG_USEC: '0' }, null],
  ];
  for (const [name, env, want] of cases) t.equal(watchdogIntervalMs(env, 42), want, name);
});

t.test('notifier is a no-op without NOTIFY_SOCKET', async (t) => {
  const sent: string[] = [];
  const transport: NotifyTransport = { name: 'spy', send: async (m) => void sent.push(m), close() {} };
  const notifier = new SystemdNotifier({ env: {}, transport });
  t.equal(notifier.enabled, false);
  t.equal(notifier.transportName, null);
  await notifier.ready('up');
  await notifier.watchdog();
  await notifier.stopping();
  notifier.close();
  t.same(sent, []);
});

t.test('notifier never throws when the transport fails', async (t) => {
  const transport: NotifyTransport = {
    name: 'broken',
    send: async () => {
      throw new Error('ECONNREFUSED');
    },
    close() {},
  };
  const notifier = new SystemdNotifier({ env: { NOTIFY_SOCKET: '/nowhere' }, transport });
  await notifier.watchdog();
  await notifier.watchdog();
  t.pass('no throw');
});

t.test('chooseTransport falls back to the perl helper when node-unix-socket does not load', async (t) => {
  t.equal(chooseTransport('/x', () => null).name, 'perl');
  t.equal(
    chooseTransport('/x').name,
    loadDgramSocket() ? 'node-unix-socket' : 'perl',
    'the in-process sender only where its prebuilt is installed',
  );
});

for (const kind of ['node-unix-socket', 'perl'] as const) {
  const Dgram = loadDgramSocket();
  const skip = kind === 'node-unix-socket' && !Dgram ? 'node-unix-socket is not installed (it is optional)' : false;
  t.test(`${kind}: messages reach a fake notify socket`, { skip }, async (t) => {
    const socket = fakeSocket(t);
    await socket.ready();
    const transport = kind === 'perl' ? new PerlTransport(socket.path) : new DgramTransport(Dgram!, socket.path);
    const notifier = new SystemdNotifier({ env: { NOTIFY_SOCKET: socket.path }, transport });
    t.teardown(() => notifier.close());
    t.equal(notifier.transportName, kind);
    await notifier.ready();
    await socket.waitFor((m) => m === 'READY=1');
    await notifier.ready('2 cameras\trunning\n');
    await socket.waitFor((m) => m.startsWith('READY=1\nSTATUS='));
    t.ok(socket.messages.includes('READY=1\nSTATUS=2 cameras running '), 'status kept on one line');
    await notifier.watchdog();
    await notifier.stopping();
    await socket.waitFor((m) => m === 'STOPPING=1');
    t.equal(socket.count('WATCHDOG=1'), 1);
  });
}

t.test('abstract-namespace NOTIFY_SOCKET (@name) goes through the perl helper', async (t) => {
  const name = `@edge-agent-test-${process.pid}`;
  const socket = fakeSocket(t, name);
  await socket.ready();
  const notifier = new SystemdNotifier({ env: { NOTIFY_SOCKET: name } });
  t.teardown(() => notifier.close());
  t.equal(notifier.transportName, 'perl');
  await notifier.ready();
  await notifier.watchdog();
  await socket.waitFor((m) => m === 'WATCHDOG=1');
  t.same(socket.messages, ['READY=1', 'WATCHDOG=1']);
  const Dgram = loadDgramSocket();
  if (!Dgram) return;
  const direct = new DgramTransport(Dgram, name);
  await t.rejects(direct.send('READY=1'), /abstract/);
});

t.test('WatchdogPetter pings only while healthy', async (t) => {
  const socket = fakeSocket(t);
  await socket.ready();
  const notifier = new SystemdNotifier({ env: { NOTIFY_SOCKET: socket.path } });
  const clock = manualClock();
  let healthy = true;
  const petter = new WatchdogPetter({ notifier, clock, isHealthy: () => healthy, intervalMs: 1000 });
  petter.start();
  clock.advance(2500); // pings at 0, 1000, 2000
  await socket.waitFor(() => socket.count('WATCHDOG=1') === 3);
  healthy = false;
  clock.advance(5000);
  await new Promise((r) => setTimeout(r, 200));
  t.equal(socket.count('WATCHDOG=1'), 3, 'no ping while a pipeline is stalled');
  healthy = true;
  clock.advance(1000);
  await socket.waitFor(() => socket.count('WATCHDOG=1') === 4);
  petter.stop();
  clock.advance(5000);
  await new Promise((r) => setTimeout(r, 100));
  t.equal(socket.count('WATCHDOG=1'), 4, 'nothing after stop');
});

t.test('WatchdogPetter treats a throwing health check as unhealthy and does nothing without a watchdog', async (t) => {
  const pings: number[] = [];
  const clock = manualClock();
  const notifier = { watchdog: async () => void pings.push(clock.now()) };
  const petter = new WatchdogPetter({
    notifier,
    clock,
    isHealthy: () => {
      throw new Error('x');
    },
    intervalMs: 10,
  });
  petter.start();
  clock.advance(100);
  petter.stop();
  t.same(pings, []);
  const off = new WatchdogPetter({ notifier, clock, isHealthy: () => true, intervalMs: null });
  off.start();
  clock.advance(100);
  t.same(pings, []);
});

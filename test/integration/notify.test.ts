/**
 * The watchdog end to end: a real child process with systemd's environment (NOTIFY_SOCKET,
 * WATCHDOG_USEC) sends READY=1, pings while healthy, and goes silent once a pipeline stalls.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { FakeNotifySocket } from '../helpers/fakeNotifySocket.js';

const notifyModule = resolve(import.meta.dirname, '../../agent/systemd/notify.ts');
const clockModule = resolve(import.meta.dirname, '../../agent/util/clock.ts');

// The child: healthy for STALL_AFTER_MS, then "a pipeline stops producing frames".
const CHILD = `
import { SystemdNotifier, WatchdogPetter } from ${JSON.stringify(notifyModule)};
import { systemClock } from ${JSON.stringify(clockModule)};
const stallAt = Date.now() + Number(process.env.STALL_AFTER_MS);
const notifier = new SystemdNotifier();
await notifier.ready('test agent up');
let said = false;
const isHealthy = () => {
  const healthy = Date.now() < stallAt;
  if (!healthy && !said) { said = true; console.log("stalled " + Date.now()); }
  return healthy;
};
const petter = new WatchdogPetter({ notifier, clock: systemClock, isHealthy });
petter.start();
setTimeout(() => { petter.stop(); notifier.close(); }, Number(process.env.RUN_MS));
`;

t.test('a stalled pipeline stops WATCHDOG=1 from a real process', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'notify-int-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'child.mts');
  writeFileSync(script, CHILD);
  const socket = new FakeNotifySocket(join(dir, 'notify.sock'));
  await socket.ready();
  t.teardown(() => socket.close());

  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: {
      ...process.env,
      NOTIFY_SOCKET: socket.path,
      WATCHDOG_USEC: '200000',
      STALL_AFTER_MS: '1000',
      RUN_MS: '2500',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const code = await new Promise<number | null>((res) => child.on('exit', res));
  t.equal(code, 0, 'child ran cleanly');

  t.ok(socket.messages[0]?.startsWith('READY=1'), 'READY=1 arrives first');
  t.match(socket.messages[0], /STATUS=test agent up/);
  const stalledAt = Number(/stalled (\d+)/.exec(stdout)?.[1]);
  t.ok(stalledAt > 0, 'the child saw its pipeline stall');
  const pings = socket.arrivedAt.filter((_, i) => socket.messages[i] === 'WATCHDOG=1');
  // Timed against the child's own stall moment, so a slow machine cannot make this flaky.
  t.ok(pings.filter((at) => at < stalledAt).length >= 3, `pinged while healthy (${pings.length} pings, every 100 ms)`);
  t.same(
    pings.filter((at) => at > stalledAt + 50),
    [],
    'no ping once a pipeline stalled',
  );
});

/**
 * The systemd watchdog measures the agent, not the cameras (README "Watchdog"): the real agent
 * with systemd's environment (NOTIFY_SOCKET, WATCHDOG_USEC of 6 s), one synthetic camera and one
 * HTTP camera that accepts connections and never answers. The agent must keep pinging while the
 * dead camera is retried (it used to stop after 10 s, and systemd restarted every camera), the
 * live camera must keep recording, and health must show the dead one as down.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AgentProcess, testConfig } from '../helpers/agentProcess.js';
import { waitFor } from '../helpers/waitFor.js';
import { FakeNotifySocket } from '../helpers/fakeNotifySocket.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqttClient.js';

// Past the 83-s liveness bound (a supervisor stuck since the start would have stopped the pings
// by then), through several retry cycles of the dead camera.
const WATCH_MS = 95_000;

t.test(
  'one camera that never answers: WATCHDOG=1 keeps coming, the other camera records, health says which is down',
  async (t) => {
    const dir = t.testdir({ broker: {} });
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.teardown(() => {
      for (const s of sockets) s.destroy();
      silent.close();
    });
    const port = (silent.address() as { port: number }).port;
    const broker = new Mosquitto({ dir: path.join(dir, 'broker') });
    await broker.start();
    t.teardown(() => broker.stop());
    const watcher = await TestClient.connect(broker.url);
    t.teardown(() => watcher.end());
    await watcher.subscribe('edge/test-device/health');

    // A socket path must fit in 108 bytes: the test folder's is too long.
    const short = mkdtempSync(path.join(tmpdir(), 'wd-'));
    t.teardown(() => rmSync(short, { recursive: true, force: true }));
    const notify = new FakeNotifySocket(path.join(short, 'notify.sock'));
    await notify.ready();
    t.teardown(() => notify.close());
    const config = testConfig(dir, { mqtt: { url: broker.url, healthIntervalSeconds: 2 } }, ['cam1', 'dead']);
    (config.cameras as Array<Record<string, unknown>>)[1]!.source = `http://127.0.0.1:${port}/video.mjpg`;
    const agent = AgentProcess.start(dir, config, { NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '6000000' });
    t.teardown(() => agent.stop());

    await waitFor('READY=1', () => notify.messages.some((m) => m.startsWith('READY=1')), 60_000);
    const readyAt = Date.now();
    await agent.waitEvent('camera.lost', 1, 60_000);
    await waitFor(`${WATCH_MS / 1000} s of watching`, () => Date.now() - readyAt >= WATCH_MS, WATCH_MS + 5000, 500);

    const pings = notify.arrivedAt.filter((_, i) => notify.messages[i] === 'WATCHDOG=1').filter((at) => at >= readyAt);
    const gaps = pings.slice(1).map((at, i) => at - pings[i]!);
    t.ok(pings.length >= WATCH_MS / 3000 - 3, `${pings.length} WATCHDOG=1 in ${WATCH_MS / 1000} s (every 3 s)`);
    t.ok(
      Math.max(...gaps, 0) < 6000,
      `never a silence systemd would act on (longest ${(Math.max(...gaps, 0) / 1000).toFixed(1)} s < 6 s)`,
    );
    t.ok(Date.now() - pings.at(-1)! < 6000, 'still pinging at the end');
    t.equal(agent.logs(/unhealthy: withholding watchdog pings/).length, 0, 'never withheld');
    t.ok(
      agent.events('pipeline.restarted').every((r) => r.camera === 'dead'),
      'only the dead camera was restarted',
    );
    t.ok(
      agent.events('archive.finished').filter((r) => String(r.file).startsWith('cam1/')).length >= 10,
      'the live camera kept recording',
    );

    const health = [...watcher.on('edge/test-device/health')].at(-1)!.json as {
      cameras: Array<{ camera: string; state: string; supervised?: boolean }>;
    };
    const dead = health.cameras.find((c) => c.camera === 'dead');
    const live = health.cameras.find((c) => c.camera === 'cam1');
    t.not(dead?.state, 'running', `R/health: the dead camera is ${dead?.state}`);
    t.equal(live?.state, 'running', 'R/health: the live camera is running');
  },
);

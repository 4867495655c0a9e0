// The real file, network and service operations of the updater (machine.mjs runs the steps).
// It runs as root and reads files from the agent's folder: those are opened without following
// links, bounded in size, and only ever read or unlinked, never written (the agent owns that
// folder and could swap a name for a link to anything). What root writes lives under
// /opt/edge-agent/update, which only root can write.
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, readlink, rename, rm, statfs, symlink } from 'node:fs/promises';
import { arch } from 'node:os';
import { join } from 'node:path';
import { ed25519PublicKey, manifestProblem, signedByAny, sha256File } from '../manifest.mjs';
import { download } from './download.mjs';

const KEEP_RELEASES = 3;
const MAX_AGENT_FILE = 64 * 1024;

/** The board's paths, under `root` for tests and image builds. */
export function boardPaths(root = '', dataDir = '/var/lib/edge-agent') {
  const app = `${root}/opt/edge-agent`;
  return {
    app,
    state: `${app}/update/state.json`,
    downloads: `${app}/update/download`,
    knownGood: `${app}/update/known-good`,
    releases: `${app}/releases`,
    keys: `${root}/etc/edge-agent/release-keys`,
    config: `${root}/etc/edge-agent/config.json`,
    request: `${root}${dataDir}/update-request.json`,
    health: `${root}${dataDir}/update-health.json`,
  };
}

/** Writes a file so that a reader (or a power cut) sees the old content or the new, never a part. */
export async function writeAtomic(file, text, mode = 0o644) {
  const dir = file.slice(0, file.lastIndexOf('/'));
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const tmp = `${file}.tmp`;
  const handle = await open(tmp, 'w', mode);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  await syncDir(dir);
}

async function syncDir(dir) {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A JSON file from a folder another user controls: no link followed, a regular file, bounded. Null when absent. */
async function readForeignJson(file) {
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if (error.code === 'ENOENT') return null;
    if (error.code === 'ELOOP') throw new Error(`${file} is a symbolic link`);
    throw error;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new Error(`${file} is not a regular file`);
    if (st.size > MAX_AGENT_FILE) throw new Error(`${file} is larger than ${MAX_AGENT_FILE} bytes`);
    return JSON.parse(await handle.readFile('utf8'));
  } finally {
    await handle.close();
  }
}

/** This machine's architecture as releases name it. */
export function machineArch() {
  return { arm64: 'arm64', arm: 'armhf', x64: 'x64' }[arch()] ?? arch();
}

/** Runs a command to its end; `timeoutMs` kills it. */
export function runCommand(cmd, args, { timeoutMs = 60_000, env } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: error.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout,
        stderr: signal === 'SIGKILL' ? `${stderr}\n(killed after ${timeoutMs} ms)` : stderr,
      });
    });
  });
}

/** How the updater restarts the agent and asks about it: systemd, or a hook (tests) answering the same way. */
export function serviceControl(hook) {
  const parse = (text) => {
    const out = {};
    for (const line of text.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1).trim();
    }
    return {
      MainPID: Number(out.MainPID ?? 0),
      NRestarts: Number(out.NRestarts ?? 0),
      ActiveState: out.ActiveState ?? 'unknown',
    };
  };
  if (hook) {
    return {
      restart: async (seconds) => describe(await runCommand(hook, ['restart'], { timeoutMs: seconds * 1000 })),
      status: async () => parse((await runCommand(hook, ['status'])).stdout),
    };
  }
  return {
    // Blocking: Type=notify returns once the agent said READY=1, or fails when it did not. An
    // earlier crash loop may have left the unit in its start limit; a manual restart would be refused.
    restart: async (seconds) => {
      await runCommand('systemctl', ['reset-failed', 'edge-agent.service']);
      return describe(await runCommand('systemctl', ['restart', 'edge-agent.service'], { timeoutMs: seconds * 1000 }));
    },
    status: async () =>
      parse(
        (
          await runCommand('systemctl', [
            'show',
            'edge-agent.service',
            '-p',
            'MainPID',
            '-p',
            'NRestarts',
            '-p',
            'ActiveState',
          ])
        ).stdout,
      ),
  };
}

function describe(r) {
  return r.code === 0
    ? { ok: true, message: '' }
    : { ok: false, message: `exit ${r.code}: ${(r.stderr || r.stdout).trim().slice(-300)}` };
}

/** The updater's operations on a real board (or a --root tree). */
export function boardOps({
  root = '',
  dataDir,
  hook,
  log = (line) => process.stdout.write(`update: ${new Date().toISOString()} ${line}\n`),
} = {}) {
  const paths = boardPaths(root, dataDir);
  const service = serviceControl(hook);
  const link = async (name) => readlink(join(paths.app, name)).catch(() => null);
  const setLink = async (name, to) => {
    const target = join(paths.app, name);
    if (to === null) return rm(target, { force: true });
    if ((await link(name)) === to) return undefined;
    await rm(`${target}.tmp`, { force: true });
    await symlink(to, `${target}.tmp`);
    await rename(`${target}.tmp`, target);
  };
  const downloadFile = (version) => join(paths.downloads, `${version}.tar.gz`);
  return {
    paths,
    log,
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    failpoint: (name) => {
      if (process.env.EDGE_AGENT_FAILPOINT === name) process.kill(process.pid, 'SIGKILL');
    },
    readState: async () => JSON.parse(await readFile(paths.state, 'utf8').catch(() => 'null')),
    writeState: (state) => writeAtomic(paths.state, `${JSON.stringify({ ...state, ts: new Date().toISOString() })}\n`),
    takeRequest: async () => {
      try {
        const request = await readForeignJson(paths.request);
        return request === null ? null : { request, problem: null };
      } catch (error) {
        return { request: null, problem: `the update request is unreadable: ${error.message}` };
      }
    },
    removeRequest: () => rm(paths.request, { force: true }),
    requestProblem,
    trustedKeys: () => trustedKeys(paths.keys),
    signedByAny,
    machineArch,
    links: async () => ({ current: await link('current'), previous: await link('previous') }),
    setLinks: async ({ current, previous }) => {
      // previous first: `current` is what systemd starts, and it changes in one rename.
      await setLink('previous', previous);
      await setLink('current', current);
      await syncDir(paths.app);
    },
    download: async (url, manifest, version) => {
      await mkdir(paths.downloads, { recursive: true, mode: 0o700 });
      const fs = await statfs(paths.downloads);
      // The tarball, the unpacked release (about twice its size) and some air.
      if (fs.bavail * fs.bsize < manifest.size * 4)
        throw new Error(`not enough free disk space for a ${manifest.size}-byte release`);
      const file = downloadFile(version);
      await download(url, file, manifest.size);
      return file;
    },
    checkDownload: async (file, manifest) => {
      const { size } = await lstat(file);
      if (size !== manifest.size) return `downloaded ${size} bytes, the manifest says ${manifest.size} (truncated?)`;
      if ((await sha256File(file)) !== manifest.sha256) return "the download's sha256 differs from the manifest's";
      return null;
    },
    unpack: (file, manifest) => unpack(paths, file, manifest),
    removeHealth: () => rm(paths.health, { force: true }),
    readHealth: () => readForeignJson(paths.health).catch(() => null),
    restart: (seconds) => service.restart(seconds),
    status: () => service.status(),
    finish: async (version) => {
      await rm(downloadFile(version), { force: true });
      const current = await link('current');
      // Only while it runs: a release installed by hand since then is not to be overruled.
      const known = await readFile(paths.knownGood, 'utf8').catch(() => '');
      if (current === `releases/${version}` && known.trim() !== current)
        await writeAtomic(paths.knownGood, `${current}\n`);
      await prune(paths, current, await link('previous'));
    },
    discard: async (version, { release = false } = {}) => {
      await rm(downloadFile(version), { force: true });
      await rm(`${downloadFile(version)}.part`, { force: true });
      await rm(join(paths.releases, `.incoming-${version}`), { recursive: true, force: true });
      const current = await link('current');
      const previous = await link('previous');
      if (release && current !== `releases/${version}` && previous !== `releases/${version}`)
        await rm(join(paths.releases, version), { recursive: true, force: true });
    },
  };
}

/** Why the agent's request is not one (its shape only; the signature is checked next). */
export function requestProblem(request) {
  if (!request || typeof request !== 'object') return 'the update request is not a json object';
  if (typeof request.attempt !== 'string' || !/^[A-Za-z0-9-]{8,64}$/.test(request.attempt))
    return 'the update request has no attempt id';
  const problem = manifestProblem(request.manifest);
  if (problem) return problem;
  if (typeof request.sig !== 'string' || !/^[0-9a-fA-F]{128}$/.test(request.sig))
    return 'sig must be the Ed25519 signature in hex (128 digits)';
  let url;
  try {
    url = new URL(request.url);
  } catch {
    return 'url is not a url';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'url must be http:// or https://';
  return null;
}

/**
 * The keys install.sh put in /etc/edge-agent/release-keys. That folder sits in the agent's own
 * /etc/edge-agent, so the agent could rename it away and make its own: only a real folder and
 * regular files owned by this updater's user (root) and writable by nobody else count.
 */
export async function trustedKeys(dir) {
  const uid = process.getuid?.() ?? 0;
  const st = await lstat(dir).catch(() => null);
  const hint = 'install one with install.sh --release-key FILE';
  if (!st) throw new Error(`no release key: ${dir} does not exist (${hint})`);
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o022) !== 0)
    throw new Error(`${dir} is not a folder owned by root and writable only by root: its keys are not trusted`);
  const keys = [];
  for (const name of (await readdir(dir)).filter((n) => n.endsWith('.pem')).sort()) {
    let handle;
    try {
      handle = await open(join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      const fst = await handle.stat();
      if (!fst.isFile() || fst.uid !== uid || (fst.mode & 0o022) !== 0) continue;
      keys.push(ed25519PublicKey(await handle.readFile(), name));
    } catch {
      // A link, a foreign file or not an Ed25519 key: not trusted, the others still are.
    } finally {
      await handle?.close();
    }
  }
  if (keys.length === 0) throw new Error(`no release key in ${dir} (${hint})`);
  return keys;
}

/** Step 4: unpacks beside the releases, checks it is the release signed and that it runs and reads the config. */
async function unpack(paths, file, manifest) {
  const { version } = manifest;
  const incoming = join(paths.releases, `.incoming-${version}`);
  await rm(incoming, { recursive: true, force: true });
  await mkdir(incoming, { recursive: true });
  const tar = await runCommand('tar', ['-xzf', file, '-C', incoming, '--no-same-owner'], { timeoutMs: 600_000 });
  if (tar.code !== 0) throw new Error(`cannot unpack the release: ${tar.stderr.trim().slice(-200)}`);
  const tops = await readdir(incoming);
  if (tops.length !== 1) throw new Error('the release tarball must hold one top folder');
  const top = join(incoming, tops[0]);
  const env = Object.fromEntries(
    (await readFile(join(top, 'release.env'), 'utf8').catch(() => ''))
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  if (env.VERSION !== version || env.ARCH !== manifest.arch)
    throw new Error(
      `the tarball's release.env says ${env.VERSION} for ${env.ARCH}, the manifest ${version} for ${manifest.arch}`,
    );
  // Never the environment of the updater's unit: EDGE_AGENT_* there would change what the check reads.
  const clean = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };
  const ran = await runCommand(join(top, 'bin/edge-agent'), ['version'], { env: clean });
  if (ran.code !== 0 || ran.stdout.trim() !== version)
    throw new Error(
      `the new release does not run here (bin/edge-agent version: exit ${ran.code} ${(ran.stdout + ran.stderr).trim().slice(-200)})`,
    );
  if (await lstat(paths.config).catch(() => null)) {
    const check = await runCommand(join(top, 'bin/edge-agent'), ['config', 'check', paths.config], { env: clean });
    if (check.code !== 0)
      throw new Error(
        `the new release rejects /etc/edge-agent/config.json: ${(check.stdout + check.stderr).trim().slice(0, 300)}`,
      );
  }
  const dest = join(paths.releases, version);
  await rm(dest, { recursive: true, force: true });
  await rename(top, dest);
  await rm(incoming, { recursive: true, force: true });
  await syncDir(paths.releases);
}

/** Keeps current, previous and the newest others, up to KEEP_RELEASES (as install.sh does). */
async function prune(paths, current, previous) {
  const keep = new Set([current, previous].filter(Boolean).map((l) => l.replace(/^releases\//, '')));
  const entries = [];
  for (const name of await readdir(paths.releases)) {
    if (name.startsWith('.') || keep.has(name)) continue;
    const st = await lstat(join(paths.releases, name));
    if (st.isDirectory()) entries.push({ name, mtime: st.mtimeMs });
  }
  entries.sort((a, b) => b.mtime - a.mtime);
  for (const { name } of entries.slice(Math.max(0, KEEP_RELEASES - keep.size)))
    await rm(join(paths.releases, name), { recursive: true, force: true });
}

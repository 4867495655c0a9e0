/**
 * The artifact a board gets: deploy/pack.sh's release for this machine's architecture, installed
 * by deploy/install.sh with no npm registry, no npm cache and no npm at all, then run from the
 * installed tree with its bundled Node.js. What a checkout-based test cannot see: a file missing
 * from the tarball (the status page once was), a dependency fetched or compiled at install time.
 */
import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, verify } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { arch } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { AgentProcess, ROOT, testConfig } from '../helpers/agentProcess.js';
import { waitFor } from '../helpers/waitFor.js';

const ARCH = arch() === 'x64' ? 'x64' : arch() === 'arm64' ? 'arm64' : null;
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const SKIP = !ARCH
  ? `no release is made for ${arch()}`
  : !existsSync(join(ROOT, 'dist/agent/cli.js'))
    ? 'run npm run build first'
    : false;

/** PATH for the installer: the system's tools, and an npm that fails loudly if anything calls it. */
function offlinePath(dir: string): string {
  const bin = join(dir, 'no-npm');
  mkdirSync(bin, { recursive: true });
  for (const tool of ['npm', 'npx', 'node-gyp', 'cc', 'gcc', 'g++', 'make']) {
    writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} called during an offline install: $*" >&2\nexit 97\n`);
    chmodSync(join(bin, tool), 0o755);
  }
  return `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`;
}

t.test(
  'the packed release installs offline and serves the status page from the installed tree',
  { skip: SKIP },
  async (t) => {
    const dir = t.testdir({ out: {}, root: {}, cache: {} });
    const keys = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'release.key'), keys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const started = performance.now();
    const pack = spawnSync(
      'bash',
      [
        join(ROOT, 'deploy/pack.sh'),
        '--no-build',
        '--arch',
        ARCH!,
        '--sign',
        join(dir, 'release.key'),
        '--out',
        join(dir, 'out'),
      ],
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 300_000,
      },
    );
    t.equal(pack.status, 0, 'pack.sh exits 0', { stderr: pack.stderr });
    const tarball = join(dir, 'out', `edge-agent-${version}-linux-${ARCH}.tar.gz`);
    t.equal(pack.stdout.trim(), tarball, 'prints the tarball it wrote');
    t.comment(`packed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    t.test(
      '--sign: a manifest {arch, sha256, size, version} in canonical JSON and its Ed25519 signature beside the tarball',
      async (t) => {
        const base = join(dir, 'out', `edge-agent-${version}-linux-${ARCH}`);
        const text = readFileSync(`${base}.manifest.json`, 'utf8');
        const manifest = JSON.parse(text) as { version: string; arch: string; sha256: string; size: number };
        const bytes = readFileSync(tarball);
        t.same(manifest, {
          arch: ARCH,
          sha256: createHash('sha256').update(bytes).digest('hex'),
          size: bytes.length,
          version,
        });
        t.equal(
          text,
          JSON.stringify({
            arch: manifest.arch,
            sha256: manifest.sha256,
            size: manifest.size,
            version: manifest.version,
          }),
          'keys sorted, no white space',
        );
        const sig = Buffer.from(readFileSync(`${base}.manifest.sig`, 'utf8').trim(), 'hex');
        t.ok(verify(null, Buffer.from(text), keys.publicKey, sig), 'signed by the key given');
        t.notOk(
          verify(null, Buffer.from(text.replace(manifest.sha256, '0'.repeat(64))), keys.publicKey, sig),
          'a changed manifest fails',
        );
        writeFileSync(join(dir, 'release.pub'), keys.publicKey.export({ type: 'spki', format: 'pem' }));
        const verifyCli = (tar: string) =>
          spawnSync(
            process.execPath,
            [
              join(ROOT, 'deploy/lib/manifest.mjs'),
              'verify',
              `${base}.manifest.json`,
              `${base}.manifest.sig`,
              join(dir, 'release.pub'),
              tar,
            ],
            { encoding: 'utf8' },
          );
        t.equal(verifyCli(tarball).status, 0, 'manifest.mjs verify accepts the tarball');
        writeFileSync(join(dir, 'truncated.tar.gz'), bytes.subarray(0, bytes.length - 10));
        const truncated = verifyCli(join(dir, 'truncated.tar.gz'));
        t.equal(truncated.status, 1, 'and refuses a truncated one');
        t.match(truncated.stderr, /bytes, the manifest says/);
        const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
        writeFileSync(join(dir, 'rsa.key'), rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
        const wrongKey = spawnSync(
          process.execPath,
          [join(ROOT, 'deploy/lib/manifest.mjs'), 'sign', tarball, version, ARCH!, join(dir, 'rsa.key')],
          { encoding: 'utf8' },
        );
        t.equal(wrongKey.status, 1);
        t.match(wrongKey.stderr, /rsa key; releases are signed with Ed25519/);
      },
    );

    const listing = spawnSync('tar', ['-tzf', tarball], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout.split('\n');
    const top = `edge-agent-${version}-linux-${ARCH}/`;
    t.ok(
      listing.every((line) => line === '' || line.startsWith(top)),
      'one top folder',
    );
    for (const needed of [
      'bin/edge-agent',
      'runtime/bin/node',
      'release.env',
      'dist/agent/cli.js',
      'agent/http/web/index.html',
      'agent/http/web/app.js',
      'agent/http/web/style.css',
      'node_modules/hls.js/dist/hls.min.js',
      'deploy/install.sh',
      'systemd/edge-agent.service',
    ]) {
      t.ok(listing.includes(top + needed), `the release holds ${needed}`);
    }
    t.notOk(
      listing.some((line) => line.endsWith('.node')),
      'no native module',
    );
    t.notOk(
      listing.some((line) => line.includes('node_modules/better-sqlite3/')),
      'no better-sqlite3 (node:sqlite instead)',
    );
    t.notOk(
      listing.some((line) => /node_modules\/(tap|typescript|tsx)\//.test(line)),
      'no dev dependencies',
    );

    const root = join(dir, 'root');
    const install = spawnSync(
      'bash',
      [join(ROOT, 'deploy/install.sh'), '--root', root, '--no-apt', '--no-start', '--from', tarball],
      {
        encoding: 'utf8',
        timeout: 120_000,
        env: {
          PATH: offlinePath(dir),
          HOME: dir,
          npm_config_registry: 'http://127.0.0.1:9/',
          npm_config_cache: join(dir, 'cache'),
          npm_config_offline: 'true',
        },
      },
    );
    t.equal(install.status, 0, 'install.sh exits 0 offline', { stdout: install.stdout, stderr: install.stderr });
    t.notMatch(install.stderr, /called during an offline install/, 'no npm, compiler or make was called');
    t.equal(readdirSync(join(dir, 'cache')).length, 0, 'the npm cache stayed empty');
    t.equal(readlinkSync(join(root, 'opt/edge-agent/current')), `releases/${version}`);
    const unit = readFileSync(join(root, 'etc/systemd/system/edge-agent.service'), 'utf8');
    t.match(
      unit,
      /^ExecStart=\/opt\/edge-agent\/current\/bin\/edge-agent run --config \/etc\/edge-agent\/config\.json$/m,
    );

    const installed = join(root, 'opt/edge-agent/current/bin/edge-agent');
    const ver = spawnSync(installed, ['version'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    t.equal(ver.stdout.trim(), version, 'the installed CLI runs with no node on PATH (its own runtime)');

    const work = join(dir, 'work');
    mkdirSync(work);
    const configFile = join(work, 'config.json');
    writeFileSync(configFile, JSON.stringify(testConfig(work), null, 2));
    const agent = new AgentProcess(configFile, [], {}, [], installed);
    t.teardown(() => agent.stop());
    const [listening] = await agent.waitLog('http listening', 1, 60_000);
    const argv = readFileSync(`/proc/${agent.child.pid}/cmdline`, 'utf8').split('\0');
    t.ok(
      argv.includes('--no-opt') && argv.includes('--no-maglev'),
      `bin/edge-agent gives node the unit's EDGE_AGENT_NODE_FLAGS: ${argv.join(' ')}`,
    );
    const base = `http://127.0.0.1:${String(listening!.port)}`;
    const page = await fetch(`${base}/`);
    t.equal(page.status, 200, 'GET / is the status page, not a 404');
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1]!);
    t.ok(assets.length >= 3, `the page references ${assets.join(', ')}`);
    for (const asset of assets) {
      const res = await fetch(`${base}${asset}`);
      t.equal(res.status, 200, `${asset} is served`);
      t.ok((await res.arrayBuffer()).byteLength > 0, `${asset} is not empty`);
    }
    await waitFor(
      'a live playlist from the installed agent',
      async () => (await fetch(`${base}/hls/cam1/index.m3u8`)).status === 200,
      60_000,
    );
    const status = (await (await fetch(`${base}/api/status`)).json()) as { version?: string };
    t.equal(status.version, version);
    const stopped = await agent.stop();
    t.equal(stopped.code, 0, 'clean stop');
    t.notMatch(agent.stderr, /ExperimentalWarning/, 'no runtime warning on stderr');
  },
);

t.test(
  'install.sh refuses a release for another architecture, and one without a runtime on an old Node',
  { skip: SKIP },
  async (t) => {
    const dir = t.testdir({ rel: { dist: { agent: { 'cli.js': '' } }, node_modules: {} }, oldnode: {} });
    const rel = join(dir, 'rel');
    writeFileSync(join(rel, 'package.json'), JSON.stringify({ name: 'edge-camera-agent', version: '9.9.9' }));
    cpSync(join(ROOT, 'deploy'), join(rel, 'deploy'), { recursive: true });
    cpSync(join(ROOT, 'systemd'), join(rel, 'systemd'), { recursive: true });
    const other = ARCH === 'x64' ? 'arm64' : 'x64';
    const install = (name: string, releaseEnv: string, extra: string[] = [], path = process.env.PATH) => {
      const root = join(dir, name);
      mkdirSync(root);
      writeFileSync(join(rel, 'release.env'), releaseEnv);
      const r = spawnSync(
        'bash',
        [join(ROOT, 'deploy/install.sh'), '--root', root, '--no-apt', '--no-start', ...extra, '--from', rel],
        {
          encoding: 'utf8',
          env: { ...process.env, PATH: path },
        },
      );
      return { ...r, root };
    };

    const foreign = install('foreign', `VERSION=9.9.9\nARCH=${other}\nRUNTIME=24.22.3\n`);
    t.equal(foreign.status, 1);
    t.match(foreign.stderr, /this release is for \S+ but this board is/);
    t.same(readdirSync(foreign.root), [], 'refused before anything changed');
    const image = install('image', `VERSION=9.9.9\nARCH=${other}\nRUNTIME=24.22.3\n`, ['--any-arch']);
    t.equal(image.status, 0, 'an image for another board may be built with --root --any-arch', {
      stderr: image.stderr,
    });
    t.match(image.stderr, /its runtime is not tried here/);

    for (const [i, bad] of ['..', '../../x', '1.0/../..'].entries()) {
      const refused = install(`bad-${i}`, `VERSION=${bad}\nARCH=${ARCH}\nRUNTIME=24.22.3\n`);
      t.equal(refused.status, 1, `version ${bad} refused`);
      t.match(refused.stderr, /is not a version/);
      t.same(readdirSync(refused.root), [], 'before anything changed');
    }

    // An armhf-style release (no runtime) on a board whose node is older than 22.13.
    const bin = join(dir, 'oldnode');
    writeFileSync(join(bin, 'node'), '#!/bin/sh\n[ "$1" = -p ] && echo 20.11.0 && exit 0\nexit 1\n');
    chmodSync(join(bin, 'node'), 0o755);
    const old = install('old', `VERSION=9.9.9\nARCH=${ARCH}\nRUNTIME=none\n`, [], `${bin}:${process.env.PATH}`);
    t.equal(old.status, 1);
    t.match(old.stderr, /needs the board's Node\.js 22\.13 or newer \(found: 20\.11\.0\)/);
    t.match(old.stderr, /64-bit Raspberry Pi OS/);
    t.same(readdirSync(old.root), [], 'refused before anything changed');
  },
);

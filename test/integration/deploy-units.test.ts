/**
 * deploy/install.sh in a throwaway root: the units and drop-ins it writes follow the board,
 * --release-key installs the updater with its keys, and the shipped units and scripts pass
 * systemd-analyze and shellcheck.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT as repo } from '../helpers/agentProcess.js';
import { exitsZero, have, installerSandbox } from '../helpers/installer.js';
import { makeRelease } from '../helpers/release.js';

t.test('drop-ins follow the board: credentials present, render group, Jetson', async (t) => {
  const { dir, root, run } = installerSandbox(t);
  const rel = makeRelease(dir, '2.0.0');
  mkdirSync(join(root, 'etc/edge-agent-credentials'), { recursive: true });
  writeFileSync(join(root, 'etc/edge-agent-credentials/mqtt-password'), 'secret\n');
  writeFileSync(join(root, 'etc/group'), 'video:x:44:\nrender:x:105:\n');
  writeFileSync(join(root, 'etc/nv_tegra_release'), '# R35 (release), REVISION: 4.1\n');
  const r = run('--from', rel);
  exitsZero(t, r);
  const dropins = join(root, 'etc/systemd/system/edge-agent.service.d');
  t.equal(
    readFileSync(join(dropins, 'credentials.conf'), 'utf8'),
    '[Service]\nLoadCredential=mqtt-password:/etc/edge-agent-credentials/mqtt-password\n',
  );
  t.match(readFileSync(join(dropins, 'groups.conf'), 'utf8'), /SupplementaryGroups=render/);
  t.match(readFileSync(join(dropins, 'jetson.conf'), 'utf8'), /PrivateTmp=no/);
  // The fake release has no node_modules/node-unix-socket: notify falls back to the perl helper.
  t.match(readFileSync(join(dropins, 'notify.conf'), 'utf8'), /NotifyAccess=all/);

  // The credential goes away: its LoadCredential= line must go too, or the unit would fail.
  execFileSync('rm', [join(root, 'etc/edge-agent-credentials/mqtt-password')]);
  const again = run('--from', rel);
  exitsZero(t, again);
  t.notOk(existsSync(join(dropins, 'credentials.conf')), 'stale credentials drop-in removed');

  if (!have('systemd-analyze'))
    return void t.comment('skip verify: systemd-analyze not installed (apt-get install systemd)');
  // Verify the installed unit with its drop-ins; ExecStart must name an existing binary here.
  const units = join(root, 'etc/systemd/system');
  const unit = join(units, 'edge-agent.service');
  writeFileSync(
    unit,
    readFileSync(unit, 'utf8').replace(/^ExecStart=\/opt\/edge-agent/m, `ExecStart=${root}/opt/edge-agent`),
  );
  const v = spawnSync('systemd-analyze', ['verify', 'edge-agent.service'], {
    env: { ...process.env, SYSTEMD_UNIT_PATH: `${units}:` },
    encoding: 'utf8',
  });
  t.equal(v.status, 0, v.stderr);
  t.equal(v.stderr.trim(), '', 'no warnings');
});

t.test(
  '--release-key: the updater trusts root-only keys in release-keys/; its units, launcher and known-good',
  async (t) => {
    const { dir, root, run } = installerSandbox(t);
    const rel = makeRelease(dir, '2.0.0');
    const keys = generateKeyPairSync('ed25519');
    const pub = keys.publicKey.export({ type: 'spki', format: 'pem' });
    writeFileSync(join(dir, 'operator.pub'), pub);
    writeFileSync(join(dir, 'operator.key'), keys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(
      join(dir, 'rsa.pub'),
      generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }),
    );

    const priv = run('--from', rel, '--release-key', join(dir, 'operator.key'));
    t.equal(priv.code, 1, 'a private key is refused');
    t.match(priv.err, /is a private key: install its public half/);
    const rsa = run('--from', rel, '--release-key', join(dir, 'rsa.pub'));
    t.equal(rsa.code, 1, 'an RSA key is refused');
    t.match(rsa.err, /is not an Ed25519 public key/);
    t.same(readdirSync(root), [], 'both before anything changed');

    const first = run('--from', rel, '--release-key', join(dir, 'operator.pub'));
    exitsZero(t, first);
    const keyDir = join(root, 'etc/edge-agent/release-keys');
    t.equal(readFileSync(join(keyDir, 'operator.pem'), 'utf8'), pub, 'installed as release-keys/operator.pem');
    t.equal((lstatSync(keyDir).mode & 0o777).toString(8), '755', 'in a folder only root writes');
    t.equal(
      (lstatSync(join(keyDir, 'operator.pem')).mode & 0o777).toString(8),
      '644',
      'readable, written only by root',
    );
    for (const name of ['edge-agent-update.service', 'edge-agent-update.path']) {
      t.equal(
        readFileSync(join(root, 'etc/systemd/system', name), 'utf8'),
        readFileSync(join(repo, 'systemd', name), 'utf8'),
        `${name} installed`,
      );
    }
    if (have('systemctl')) {
      t.ok(
        lstatSync(join(root, 'etc/systemd/system/paths.target.wants/edge-agent-update.path')).isSymbolicLink(),
        'the path unit is enabled',
      );
      t.ok(
        lstatSync(join(root, 'etc/systemd/system/multi-user.target.wants/edge-agent-update.service')).isSymbolicLink(),
        'the updater runs at boot too',
      );
    }
    const launcher = join(root, 'usr/local/sbin/edge-agent-update');
    t.equal((lstatSync(launcher).mode & 0o777).toString(8), '755', 'the launcher is installed');
    t.equal(
      readFileSync(join(root, 'opt/edge-agent/update/known-good'), 'utf8').trim(),
      'releases/2.0.0',
      'the installed release is the known-good one',
    );
    const status = spawnSync(launcher, ['--root', root, '--status'], {
      env: { ...process.env, EDGE_AGENT_APP_DIR: join(root, 'opt/edge-agent') },
      encoding: 'utf8',
    });
    t.equal(status.status, 0, 'the launcher finds a runnable updater in the known-good release', {
      stderr: status.stderr,
    });
    t.equal(status.stdout, 'no update yet\n');
    const again = run('--from', rel, '--release-key', join(dir, 'operator.pub'));
    exitsZero(t, again);
    t.match(again.out, /no changes/, 'idempotent, key included');

    const gone = run('--uninstall');
    exitsZero(t, gone);
    t.notOk(existsSync(launcher), 'uninstall removes the launcher');
    t.notOk(existsSync(join(root, 'etc/systemd/system/edge-agent-update.path')), 'and the updater units');
  },
);

t.test(
  'systemd-analyze verify accepts the updater units',
  { skip: have('systemd-analyze') ? false : 'systemd-analyze not installed' },
  async (t) => {
    const dir = t.testdir({});
    const service = readFileSync(join(repo, 'systemd/edge-agent-update.service'), 'utf8');
    t.match(service, /^ExecStart=\/usr\/local\/sbin\/edge-agent-update$/m);
    t.match(service, /^Type=oneshot$/m);
    t.match(
      readFileSync(join(repo, 'systemd/edge-agent-update.path'), 'utf8'),
      /^PathExists=\/var\/lib\/edge-agent\/update-request\.json$/m,
    );
    writeFileSync(
      join(dir, 'edge-agent-update.service'),
      service.replace(/^ExecStart=\S+/m, `ExecStart=${process.execPath}`),
    );
    writeFileSync(
      join(dir, 'edge-agent-update.path'),
      readFileSync(join(repo, 'systemd/edge-agent-update.path'), 'utf8'),
    );
    const v = spawnSync('systemd-analyze', ['verify', 'edge-agent-update.service', 'edge-agent-update.path'], {
      cwd: dir,
      env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` },
      encoding: 'utf8',
    });
    t.equal(v.status, 0, v.stderr);
    t.equal(v.stderr.trim(), '', 'no warnings');
  },
);

const NO_ANALYZE = have('systemd-analyze') ? false : 'systemd-analyze not installed (apt-get install systemd)';
const NO_SHELLCHECK = have('shellcheck') ? false : 'shellcheck not installed (apt-get install shellcheck)';

t.test('systemd-analyze verify accepts the shipped unit', { skip: NO_ANALYZE }, async (t) => {
  const dir = t.testdir({});
  const unit = join(dir, 'edge-agent.service');
  const text = readFileSync(join(repo, 'systemd/edge-agent.service'), 'utf8');
  t.match(
    text,
    /^ExecStart=\/opt\/edge-agent\/current\/bin\/edge-agent run --config \/etc\/edge-agent\/config\.json$/m,
  );
  t.match(
    text,
    /^Environment=NODE_OPTIONS=--max-semi-space-size=1$/m,
    'V8 young generation capped (RSS stays flat; see the soak)',
  );
  t.match(
    text,
    /^Environment="EDGE_AGENT_NODE_FLAGS=--no-opt --no-maglev"$/m,
    "V8's optimising compilers off (~10 MB of RSS; issue 20), passed by bin/edge-agent since NODE_OPTIONS refuses them",
  );
  t.notMatch(text, /^\s*(PrivateDevices|MemoryDenyWriteExecute)=/m, 'never PrivateDevices= or MemoryDenyWriteExecute=');
  t.notMatch(text, /^DeviceAllow=\/dev\/\S*[*?]/m, 'no globs in device paths');
  t.notMatch(text, /^SupplementaryGroups=.*render/m, 'render only via drop-in');
  writeFileSync(
    unit,
    text.replace(/^ExecStart=\/opt\/edge-agent\/current\/bin\/edge-agent /m, `ExecStart=${process.execPath} `),
  );
  const v = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
  t.equal(v.status, 0, v.stderr);
  t.equal(v.stderr.trim(), '', 'no warnings');
});

t.test("the unit's sandbox rates 3.0 or better in systemd-analyze security", { skip: NO_ANALYZE }, async (t) => {
  const dir = t.testdir({});
  const unit = join(dir, 'edge-agent.service');
  writeFileSync(
    unit,
    readFileSync(join(repo, 'systemd/edge-agent.service'), 'utf8').replace(
      /^ExecStart=\S+/m,
      `ExecStart=${process.execPath}`,
    ),
  );
  const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', unit], { encoding: 'utf8' });
  const score = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(r.stdout)?.[1]);
  t.ok(score <= 3, `exposure ${score} (≤ 3.0; the unit says why each open setting stays open)`, {
    stdout: r.stdout.slice(-400),
  });
});

t.test('shellcheck passes on every script', { skip: NO_SHELLCHECK }, async (t) => {
  const scripts = readdirSync(join(repo, 'deploy'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .filter((f) => f.endsWith('.sh') || readFileSync(f, 'utf8').startsWith('#!/usr/bin/env bash'));
  t.ok(scripts.length >= 4, `found ${scripts.length} scripts`);
  const r = spawnSync('shellcheck', ['-x', '-P', 'SCRIPTDIR', ...scripts], { cwd: repo, encoding: 'utf8' });
  t.equal(r.status, 0, r.stdout + r.stderr);
});

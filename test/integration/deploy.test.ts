/**
 * deploy/install.sh in a throwaway root (--root): releases installed twice (nothing changes, the
 * config kept), upgraded and rolled back, and a release that rejects the board's config refused.
 * The releases are fakes shaped like deploy/pack.sh's (release.test.ts installs the real one);
 * deploy-paths.test.ts and deploy-units.test.ts have the rest of the installer.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { exitsZero, installerSandbox } from '../helpers/installer.js';
import { makeRelease } from '../helpers/release.js';

/** Every path under root with its type, mode, link target and content hash. */
function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = join(root, rel);
    const st = lstatSync(abs);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) out.push(`${rel} link ${readlinkSync(abs)}`);
    else if (st.isDirectory()) {
      out.push(`${rel}/ ${mode}`);
      for (const name of readdirSync(abs).sort()) walk(join(rel, name));
    } else out.push(`${rel} ${mode} ${createHash('sha256').update(readFileSync(abs)).digest('hex').slice(0, 16)}`);
  };
  walk('.');
  return out;
}

t.test('install twice changes nothing, keeps config, upgrades and rolls back', async (t) => {
  const { dir, root, run } = installerSandbox(t);
  const v1 = makeRelease(dir, '1.0.0');
  const first = run('--from', v1);
  exitsZero(t, first);
  t.match(first.out, /installed release 1\.0\.0/);
  t.ok(existsSync(join(root, 'etc/edge-agent/config.json')), 'config written');
  t.equal(readlinkSync(join(root, 'opt/edge-agent/current')), 'releases/1.0.0');
  const wrapper = join(root, 'usr/local/bin/edge-agent');
  t.match(readFileSync(wrapper, 'utf8'), /exec \/opt\/edge-agent\/current\/bin\/edge-agent "\$@"/);
  t.equal(spawnSync(wrapper, ['x']).status, 127, 'wrapper is executable (runs a path absent outside the root)');
  t.equal(
    spawnSync(join(root, 'opt/edge-agent/current/bin/edge-agent'), ['version'], { encoding: 'utf8' }).stdout,
    '1.0.0\n',
    'the release runs with its runtime',
  );
  const before = snapshot(root);

  const second = run('--from', v1);
  exitsZero(t, second);
  t.match(second.out, /no changes/);
  t.same(snapshot(root), before, 'second run left every file, mode and link as it was');

  // A technician's edit survives upgrades.
  writeFileSync(join(root, 'etc/edge-agent/config.json'), '{"device":{"id":"gate-7"}}\n');
  mkdirSync(join(root, 'var/lib/edge-agent/archive/cam1'), { recursive: true });
  writeFileSync(join(root, 'var/lib/edge-agent/archive/cam1/archive_20260101T000000Z.mp4'), 'video');
  const v2 = makeRelease(dir, '1.1.0');
  const up = run('--from', v2);
  exitsZero(t, up);
  t.equal(readlinkSync(join(root, 'opt/edge-agent/current')), 'releases/1.1.0');
  t.equal(readlinkSync(join(root, 'opt/edge-agent/previous')), 'releases/1.0.0');
  t.equal(
    readFileSync(join(root, 'etc/edge-agent/config.json'), 'utf8'),
    '{"device":{"id":"gate-7"}}\n',
    'config kept',
  );

  const back = run('--rollback');
  exitsZero(t, back);
  t.equal(readlinkSync(join(root, 'opt/edge-agent/current')), 'releases/1.0.0');
  t.equal(readlinkSync(join(root, 'opt/edge-agent/previous')), 'releases/1.1.0');

  const un = run('--uninstall');
  exitsZero(t, un);
  t.notOk(existsSync(join(root, 'opt/edge-agent')), 'app removed');
  t.notOk(existsSync(join(root, 'etc/systemd/system/edge-agent.service')), 'unit removed');
  t.notOk(existsSync(join(root, 'usr/local/bin/edge-agent')), 'command removed');
  t.ok(existsSync(join(root, 'var/lib/edge-agent/archive/cam1/archive_20260101T000000Z.mp4')), 'archives kept');
  t.ok(existsSync(join(root, 'etc/edge-agent/config.json')), 'config kept');

  const purge = run('--uninstall', '--purge');
  exitsZero(t, purge);
  t.notOk(existsSync(join(root, 'var/lib/edge-agent')), 'data purged');
  t.notOk(existsSync(join(root, 'etc/edge-agent')), 'config purged');
});

t.test('a release that rejects the board config changes nothing; --rollback goes back one switch only', async (t) => {
  const { dir, root, run } = installerSandbox(t);
  exitsZero(t, run('--from', makeRelease(dir, '1.0.0')));
  exitsZero(t, run('--from', makeRelease(dir, '1.1.0')));
  const before = snapshot(join(root, 'opt/edge-agent'));
  const bad = run('--from', makeRelease(dir, '1.2.0', { rejectConfig: true }));
  t.equal(bad.code, 1, 'the install fails');
  t.match(bad.err, /the new release rejects \/etc\/edge-agent\/config\.json; nothing changed/);
  t.same(snapshot(join(root, 'opt/edge-agent')), before, 'releases and links exactly as they were (no .incoming left)');
  exitsZero(t, run('--rollback'));
  t.equal(
    readlinkSync(join(root, 'opt/edge-agent/current')),
    'releases/1.0.0',
    'back to the release before the last switch',
  );
  t.equal(readlinkSync(join(root, 'opt/edge-agent/previous')), 'releases/1.1.0');
});

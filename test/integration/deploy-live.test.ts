/**
 * deploy/install.sh without --root, the way a board runs it (real useradd, usermod, chown), made
 * safe here: a private mount namespace with overlays on /etc, /opt, /var and /usr/local, so
 * nothing reaches this machine. systemctl is a recording stub (no systemd runs in this box); its
 * restart fails while `current` is a release named *-bad, as a release that never says READY=1.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { makeRelease } from '../helpers/release.js';

function namespacesWork(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs none /mnt'], {
    stdio: 'ignore',
  });
  return probe.status === 0;
}

const SKIP = namespacesWork() ? false : 'needs root and mount namespaces (unshare -m) to install into an overlay';

// systemctl: records calls; "active" once restarted, "enabled" once enabled.
const SYSTEMCTL = `#!/bin/sh
echo "systemctl $*" >> "$STUB_LOG"
state="$(dirname "$0")"
case "$*" in
  *is-enabled*) [ -e "$state/enabled" ] ;;
  *is-active*) [ -e "$state/active" ] ;;
  *enable*) touch "$state/enabled" ;;
  *restart*) readlink /opt/edge-agent/current | grep -q -- -bad && exit 1; touch "$state/active" ;;
  *disable*) rm -f "$state/enabled" "$state/active" ;;
esac
`;
const HAS_RENDER = spawnSync('getent', ['group', 'render']).status === 0;

t.test('a live install: user, groups, owners, systemctl calls, idempotent, purge', { skip: SKIP }, async (t) => {
  const dir = t.testdir({ bin: {}, layers: {} });
  const bin = join(dir, 'bin');
  writeFileSync(join(bin, 'systemctl'), SYSTEMCTL);
  chmodSync(join(bin, 'systemctl'), 0o755);
  const rel = makeRelease(dir, '3.0.0');
  const next = makeRelease(dir, '3.1.0');
  const bad = makeRelease(dir, '3.2.0-bad');
  const log = join(dir, 'systemctl.log');
  const layers = join(dir, 'layers');
  const script = `
set -e
for d in etc opt var usr/local; do
  n="\${d//\\//_}"; mkdir -p "${layers}/$n/u" "${layers}/$n/w"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=${layers}/$n/u,workdir=${layers}/$n/w" "/$d"
done
userdel edge-agent 2>/dev/null || true
install="${rel}/deploy/install.sh --from ${rel} --no-apt"
echo "== first"; bash $install
echo "== user: $(id -nG edge-agent)"
echo "== owners: $(stat -c '%U:%G %a' /var/lib/edge-agent) $(stat -c '%U:%G %a' /etc/edge-agent) $(stat -c '%U:%G %a' /etc/edge-agent-credentials) $(stat -c '%U:%G %a' /etc/edge-agent/config.json)"
echo "== dropins: $(ls /etc/systemd/system/edge-agent.service.d | tr '\\n' ' ')"
echo "== second"; bash $install
echo "== upgrade"; bash ${rel}/deploy/install.sh --from ${next} --no-apt
echo "== bad"; bash ${rel}/deploy/install.sh --from ${bad} --no-apt 2>&1 && exit 9
echo "== after bad: $(readlink /opt/edge-agent/current) $(readlink /opt/edge-agent/previous)"
echo "== uninstall"; bash $install --uninstall --purge
echo "== after: $(id edge-agent 2>&1 | head -c 40) $(ls /var/lib/edge-agent /etc/edge-agent /opt/edge-agent 2>&1 | wc -l)"
`;
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'bash', '-c', script], {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, STUB_LOG: log },
    encoding: 'utf8',
    timeout: 120_000,
  });
  t.equal(r.status, 0, 'runs', { stdout: r.stdout, stderr: r.stderr });
  const section = (name: string) => r.stdout.split(`== ${name}`)[1]?.split('\n== ')[0] ?? '';
  t.match(section('first'), /created user edge-agent/);
  t.match(
    r.stdout,
    HAS_RENDER ? /== user: edge-agent video render/ : /== user: edge-agent video\n/,
    HAS_RENDER ? 'render too (it exists here)' : 'no render group here',
  );
  t.match(
    r.stdout,
    /== owners: edge-agent:edge-agent 750 edge-agent:edge-agent 750 root:root 700 edge-agent:edge-agent 640/,
  );
  t.match(r.stdout, HAS_RENDER ? /== dropins: groups\.conf notify\.conf/ : /== dropins: notify\.conf/);
  t.match(section('second'), /no changes/);
  t.notMatch(section('second'), /restarted/);
  t.match(
    section('bad'),
    /did not start with releases\/3\.2\.0-bad \(journalctl -u edge-agent\); back on releases\/3\.1\.0, running/,
  );
  t.match(
    r.stdout,
    /== after bad: releases\/3\.1\.0 releases\/3\.0\.0/,
    'the running release and its previous, as before',
  );
  t.match(section('uninstall'), /removed user edge-agent/);
  t.match(r.stdout, /== after: id: .edge-agent.: no such user/);
  const calls = (await import('node:fs')).readFileSync(log, 'utf8').trim().split('\n');
  t.same(calls.slice(0, 4), [
    'systemctl daemon-reload',
    'systemctl --quiet is-enabled edge-agent.service',
    'systemctl --quiet enable edge-agent.service',
    'systemctl restart edge-agent.service',
  ]);
  t.ok(calls.includes('systemctl disable --now edge-agent.service'), 'uninstall stops and disables');
});

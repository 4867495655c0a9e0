/**
 * deploy/rollout's plan and failure handling against a fake `ssh` on PATH that records every
 * call and plays a board: no network is touched.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import t, { type Test } from 'tap';

const rollout = resolve(import.meta.dirname, '../../deploy/rollout');

// A board: copy and install succeed; /healthz fails on $FAKE_UNHEALTHY hosts; R/status is
// online with $FAKE_STATUS_VERSION; `hostname` answers id-<host>.
const FAKE_SSH = `#!/usr/bin/env bash
while [[ "$1" == -o ]]; do shift 2; done
host="$1"; shift; cmd="$*"
printf '%s|%s\\n' "$host" "$cmd" >> "$FAKE_LOG"
case "$cmd" in
  cat\\ \\>*) cat > /dev/null ;;
  *healthz*) [[ " $FAKE_UNHEALTHY " == *" $host "* ]] && exit 22; echo ok ;;
  mosquitto_sub*) echo '{"state":"online","version":"'"$FAKE_STATUS_VERSION"'","ts":"x"}' ;;
  hostname) echo "id-$host" ;;
  mktemp*) if [[ " $FAKE_NO_STAGE " == *" $host "* ]]; then echo /tmp/shared; else echo /tmp/edge-agent-stage.AbCdEf0123; fi ;;
  *) ;;
esac
`;

function setup(t: Test, hosts: string[]) {
  const dir = t.testdir({ bin: {}, rel: {} });
  writeFileSync(join(dir, 'bin/ssh'), FAKE_SSH);
  chmodSync(join(dir, 'bin/ssh'), 0o755);
  mkdirSync(join(dir, 'rel/edge-agent-1.2.0'));
  writeFileSync(join(dir, 'rel/edge-agent-1.2.0/package.json'), '{"version":"1.2.0"}');
  const tarball = join(dir, 'edge-agent-1.2.0.tar.gz');
  spawnSync('tar', ['-czf', tarball, '-C', join(dir, 'rel'), 'edge-agent-1.2.0']);
  writeFileSync(join(dir, 'boards.txt'), `# the fleet\n${hosts.join('\n')}\n\n`);
  const log = join(dir, 'ssh.log');
  const run = (args: string[], env: Record<string, string> = {}) => {
    const r = spawnSync(
      rollout,
      ['--release', tarball, '--hosts', join(dir, 'boards.txt'), '--timeout', '1', '--interval', '0.1', ...args],
      {
        env: {
          ...process.env,
          PATH: `${join(dir, 'bin')}:${process.env.PATH}`,
          FAKE_LOG: log,
          FAKE_STATUS_VERSION: '1.2.0',
          ...env,
        },
        encoding: 'utf8',
      },
    );
    const calls = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
    return { code: r.status, out: r.stdout, err: r.stderr, calls };
  };
  return { run };
}

/** The hosts that saw a call matching `pattern`, in order, once each. */
function hostsWith(calls: string[], pattern: RegExp): string[] {
  return [...new Set(calls.filter((c) => pattern.test(c.split('|')[1] ?? '')).map((c) => c.split('|')[0] ?? ''))];
}

t.test('--dry-run prints the canary and batches and touches nothing', async (t) => {
  const { run } = setup(t, ['a', 'b gate-2', 'c', 'd', 'e']);
  const r = run(['--dry-run', '--batch', '2', '--canary', 'c']);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /release 1\.2\.0 to 5 board\(s\)/);
  t.match(r.out, /canary: c\n\s+batch 1: a b\n\s+batch 2: d e\n/);
  t.match(r.out, /mktemp -d \/tmp\/edge-agent-stage\.XXXXXXXXXX/);
  t.match(r.out, /install\.sh --from <stage>\/edge-agent-1\.2\.0\.tar\.gz --no-apt; rc=\$\?; rm -rf <stage>/);
  t.match(r.out, /--rollback/);
  t.same(r.calls, [], 'no ssh at all');
});

t.test('all boards healthy: canary, then batches, each installed and checked', async (t) => {
  const { run } = setup(t, ['a', 'b gate-2', 'c', 'd', 'e']);
  const r = run(['--batch', '2']);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /done: ok=5 failed=0 not-attempted=0/);
  t.same(
    hostsWith(r.calls, /^cat > \/tmp\/edge-agent-stage\.AbCdEf0123\/edge-agent-1\.2\.0\.tar\.gz$/)[0],
    'a',
    'canary first',
  );
  t.same(hostsWith(r.calls, /install\.sh --from/).sort(), ['a', 'b', 'c', 'd', 'e']);
  t.same(hostsWith(r.calls, /healthz/).sort(), ['a', 'b', 'c', 'd', 'e']);
  // The embedded broker needs the technicians' login, read on the board (never sent from here).
  const sub = (host: string, topic: string) =>
    r.calls.some((c) =>
      c.startsWith(
        `${host}|mosquitto_sub -h 127.0.0.1 -u technician -P "$(sudo sh -c 'cat /etc/edge-agent-credentials/mqtt-technician 2>/dev/null || cat /var/lib/edge-agent/mqtt-technician')" -t '${topic}' -C 1 -W 5`,
      ),
    );
  t.ok(sub('b', 'edge/gate-2/status'), 'device id from the hosts file');
  t.ok(sub('a', 'edge/id-a/status'), 'device id from hostname');
  t.same(hostsWith(r.calls, /--rollback/), []);
  // The canary finished before any batch-1 board was touched.
  const lastCanary = r.calls.map((c) => c.split('|')[0]).lastIndexOf('a');
  const firstOther = r.calls.findIndex((c) => !c.startsWith('a|'));
  t.ok(lastCanary < firstOther, 'canary completes first');
});

t.test('an unhealthy canary is rolled back and nothing else is touched', async (t) => {
  const { run } = setup(t, ['a', 'b', 'c']);
  const r = run([], { FAKE_UNHEALTHY: 'a' });
  t.equal(r.code, 1);
  t.same(hostsWith(r.calls, /--rollback/), ['a']);
  t.same(hostsWith(r.calls, /.*/), ['a'], 'b and c never contacted');
  t.match(r.out, /failed and rolled back: a/);
  t.match(r.out, /not attempted \(stopped after a failure\): b c/);
});

t.test('a failing board in a batch is rolled back and later batches do not start', async (t) => {
  const { run } = setup(t, ['a', 'b', 'c', 'd', 'e']);
  const r = run(['--batch', '2'], { FAKE_UNHEALTHY: 'c' });
  t.equal(r.code, 1);
  t.same(hostsWith(r.calls, /--rollback/), ['c']);
  t.match(r.out, /ok: a b\n/);
  t.match(r.out, /not attempted \(stopped after a failure\): d e/);
  t.notOk(r.calls.some((c) => c.startsWith('d|') || c.startsWith('e|')));
});

t.test('a retained "online" from the old version does not count as healthy', async (t) => {
  const { run } = setup(t, ['a']);
  const r = run(['--status-via', 'board'], { FAKE_STATUS_VERSION: '1.1.0' });
  t.equal(r.code, 1);
  t.same(hostsWith(r.calls, /--rollback/), ['a']);
});

t.test('--status-via none relies on /healthz alone', async (t) => {
  const { run } = setup(t, ['a']);
  const r = run(['--status-via', 'none'], { FAKE_STATUS_VERSION: 'old' });
  t.equal(r.code, 0, r.err);
  t.same(hostsWith(r.calls, /mosquitto_sub/), []);
});

t.test('staging on a board is a private mktemp -d folder, removed after the install (issue 15)', async (t) => {
  const { run } = setup(t, ['a', 'b']);
  const r = run(['--batch', '1'], { FAKE_NO_STAGE: 'b' });
  const a = r.calls.filter((c) => c.startsWith('a|')).map((c) => c.split('|')[1]);
  t.same(a.slice(0, 2), ['hostname', 'mktemp -d /tmp/edge-agent-stage.XXXXXXXXXX']);
  t.ok(
    a.some((c) => /^cat > \/tmp\/edge-agent-stage\.AbCdEf0123\//.test(c!)),
    'the tarball goes into it',
  );
  t.ok(
    a.some((c) =>
      /install\.sh --from \/tmp\/edge-agent-stage\.AbCdEf0123\/.*; rm -rf \/tmp\/edge-agent-stage\.AbCdEf0123; exit \$rc$/.test(
        c!,
      ),
    ),
    'and it is removed',
  );
  t.notOk(
    r.calls.some((c) => /edge-agent-stage-|\/tmp\/edge-agent-1\.2\.0/.test(c)),
    'no predictable /tmp name anywhere',
  );
  // A board whose mktemp answers something else gets nothing copied or installed.
  const b = r.calls.filter((c) => c.startsWith('b|')).map((c) => c.split('|')[1]);
  t.notOk(
    b.some((c) => /^cat >|install\.sh/.test(c!)),
    'nothing copied to or run from a folder that is not ours',
  );
  t.match(r.out, /b: could not make a private staging folder/);
  t.not(r.code, 0);
});

t.test('a release whose version is not one is refused before any board is touched', async (t) => {
  const dir = t.testdir({ bin: {}, rel: { x: { 'package.json': '{"version":"../../x"}' } } });
  writeFileSync(join(dir, 'bin/ssh'), FAKE_SSH);
  chmodSync(join(dir, 'bin/ssh'), 0o755);
  const tarball = join(dir, 'bad.tar.gz');
  spawnSync('tar', ['-czf', tarball, '-C', join(dir, 'rel'), 'x']);
  writeFileSync(join(dir, 'boards.txt'), 'a\n');
  const log = join(dir, 'ssh.log');
  const r = spawnSync(rollout, ['--release', tarball, '--hosts', join(dir, 'boards.txt')], {
    env: { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}`, FAKE_LOG: log },
    encoding: 'utf8',
  });
  t.equal(r.status, 2);
  t.match(r.stderr, /release version '\.\.\/\.\.\/x' is not a version/);
  t.notOk(existsSync(log), 'no ssh call');
});

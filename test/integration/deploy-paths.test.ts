/**
 * deploy/install.sh in a throwaway root: the paths it prepares for the board. Folders the config
 * names become writable; credentials live in a root-only folder of their own, moved from an
 * older install and never taken through a link the agent user planted.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { exitsZero, installerSandbox } from '../helpers/installer.js';
import { makeRelease } from '../helpers/release.js';

t.test("folders the config names outside the unit's own become writable under ProtectSystem=strict", async (t) => {
  const { dir, root, run } = installerSandbox(t);
  mkdirSync(join(root, 'etc/edge-agent'), { recursive: true });
  writeFileSync(
    join(root, 'etc/edge-agent/config.json'),
    JSON.stringify({ archive: { dir: '/mnt/ssd/edge/archive' }, dataDir: '/var/lib/edge-agent' }),
  );
  exitsZero(t, run('--from', makeRelease(dir, '1.0.0')));
  const dropin = join(root, 'etc/systemd/system/edge-agent.service.d/paths.conf');
  t.equal(readFileSync(dropin, 'utf8'), '[Service]\nReadWritePaths=-/mnt/ssd/edge/archive\n');
  t.ok(existsSync(join(root, 'mnt/ssd/edge/archive')), 'the folder is made for the service user');
  // Back on the SD card: the drop-in goes.
  writeFileSync(join(root, 'etc/edge-agent/config.json'), '{}');
  exitsZero(t, run('--from', makeRelease(dir, '1.0.0')));
  t.notOk(existsSync(dropin), 'stale paths.conf removed');
});

t.test('credentials live outside the agent-owned /etc/edge-agent; an older install migrates', async (t) => {
  const { dir, root, run } = installerSandbox(t);
  const rel = makeRelease(dir, '2.0.0');
  // An install from before: secrets in /etc/edge-agent/credentials/ (root, 0700).
  const old = join(root, 'etc/edge-agent/credentials');
  mkdirSync(old, { recursive: true, mode: 0o700 });
  writeFileSync(join(old, 'mqtt-password'), 'mqtt-secret\n', { mode: 0o600 });
  writeFileSync(join(old, 'http-token'), 'http-secret\n', { mode: 0o644 });
  const r = run('--from', rel);
  exitsZero(t, r);
  const creds = join(root, 'etc/edge-agent-credentials');
  t.equal((lstatSync(creds).mode & 0o777).toString(8), '700', 'the new folder is root-only');
  t.equal(readFileSync(join(creds, 'mqtt-password'), 'utf8'), 'mqtt-secret\n');
  t.equal(readFileSync(join(creds, 'http-token'), 'utf8'), 'http-secret\n');
  t.equal((lstatSync(join(creds, 'http-token')).mode & 0o777).toString(8), '600', 'made 0600 whatever the old mode');
  t.notOk(existsSync(old), 'the old folder is gone');
  t.equal(
    readFileSync(join(root, 'etc/systemd/system/edge-agent.service.d/credentials.conf'), 'utf8'),
    '[Service]\nLoadCredential=mqtt-password:/etc/edge-agent-credentials/mqtt-password\nLoadCredential=http-token:/etc/edge-agent-credentials/http-token\n',
  );
  t.match(r.out, /moved credential mqtt-password/);
  const again = run('--from', rel);
  exitsZero(t, again);
  t.match(again.out, /no changes/, 'idempotent after the move');
});

t.test('a link planted by the agent user where the credentials were is never followed', async (t) => {
  const { dir, root, run } = installerSandbox(t);
  const rel = makeRelease(dir, '2.0.0');
  // What a compromised agent could do in the folder it owns: the old credentials folder (and a
  // file in the new one's place) made links to root's files.
  const victim = join(root, 'srv/victim');
  mkdirSync(victim, { recursive: true, mode: 0o755 });
  writeFileSync(join(victim, 'gemini-api-key'), 'not a key\n', { mode: 0o644 });
  mkdirSync(join(root, 'etc/edge-agent'), { recursive: true });
  execFileSync('ln', ['-s', victim, join(root, 'etc/edge-agent/credentials')]);
  const r = run('--from', rel);
  exitsZero(t, r);
  t.equal((lstatSync(victim).mode & 0o777).toString(8), '755', "the link target's mode untouched");
  t.equal((lstatSync(join(victim, 'gemini-api-key')).mode & 0o777).toString(8), '644');
  t.notOk(existsSync(join(root, 'etc/edge-agent-credentials/gemini-api-key')), 'nothing taken through the link');
  t.match(r.err, /etc\/edge-agent\/credentials is not a root-owned folder/);
  t.notOk(
    existsSync(join(root, 'etc/systemd/system/edge-agent.service.d/credentials.conf')),
    'no LoadCredential= through it',
  );

  // A link inside a real old folder is not moved either.
  const second = installerSandbox(t);
  const oldDir = join(second.root, 'etc/edge-agent/credentials');
  mkdirSync(oldDir, { recursive: true, mode: 0o700 });
  mkdirSync(join(second.root, 'srv'), { recursive: true });
  writeFileSync(join(second.root, 'srv/shadow'), 'root:x:\n', { mode: 0o640 });
  execFileSync('ln', ['-s', join(second.root, 'srv/shadow'), join(oldDir, 'command-key')]);
  const r2 = second.run('--from', makeRelease(second.dir, '2.0.0'));
  exitsZero(t, r2);
  t.notOk(existsSync(join(second.root, 'etc/edge-agent-credentials/command-key')), 'a linked file is not moved');
  t.match(r2.err, /command-key is not a regular root-owned file/);
  t.ok(existsSync(oldDir), 'the old folder is kept for a person to look at');
});

/**
 * The agent's half of an update (agent/update/updates.ts): a request is checked and left for the
 * root updater; R/release follows the updater's state file; R/release/desired is handled once per
 * document, waits while an update runs, and needs a command signature when a command key is set.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { ReleaseMessage } from '../../../agent/contract/messages.js';
import { manifestText } from '../../../agent/update/release.js';
import { machineArch } from '../../../agent/update/state.js';
import { ReleaseUpdates, type DesiredReleaseMemory } from '../../../agent/update/updates.js';
import { silentLogger } from '../../../agent/util/logger.js';
import { waitFor } from '../../helpers/waitFor.js';

const operator = generateKeyPairSync('ed25519');

function release(version: string) {
  const manifest = { arch: machineArch(), sha256: 'ab'.repeat(32), size: 1000, version };
  return {
    manifest,
    sig: sign(null, Buffer.from(manifestText(manifest)), operator.privateKey).toString('hex'),
    url: `http://releases.example/${version}.tar.gz`,
  };
}

function setup(
  t: Test,
  options: { signingRequired?: boolean; desiredSigned?: boolean; app?: boolean; requestTimeoutMs?: number } = {},
) {
  const dir = t.testdir({ app: { releases: { '1.0.0': {}, '0.9.0': {} }, update: {} }, data: {}, keys: {} });
  writeFileSync(path.join(dir, 'keys/operator.pem'), operator.publicKey.export({ type: 'spki', format: 'pem' }));
  symlinkSync('releases/0.9.0', path.join(dir, 'app/previous'));
  symlinkSync('releases/1.0.0', path.join(dir, 'app/current'));
  const published: ReleaseMessage[] = [];
  let memory: DesiredReleaseMemory | null = null;
  const updates = new ReleaseUpdates({
    version: '1.0.0',
    app: options.app === false ? null : path.join(dir, 'app'),
    dataDir: () => path.join(dir, 'data'),
    keyDir: path.join(dir, 'keys'),
    baseline: () => ({ cameras: ['cam1'], mqtt: true }),
    publish: (m) => published.push(m),
    memory: { load: () => memory, save: (v) => void (memory = v) },
    signingRequired: () => options.signingRequired ?? false,
    desiredSigned: () => options.desiredSigned ?? false,
    log: silentLogger(),
    pollMs: 20,
    requestTimeoutMs: options.requestTimeoutMs,
  });
  t.teardown(() => updates.stop());
  const requestFile = path.join(dir, 'data/update-request.json');
  const writeState = (state: object) =>
    writeFileSync(path.join(dir, 'app/update/state.json'), JSON.stringify({ ts: new Date().toISOString(), ...state }));
  return { dir, updates, published, requestFile, writeState, memory: () => memory };
}

t.test("a request is written for the root updater with the gate's baseline; one at a time", async (t) => {
  const { updates, requestFile, writeState } = setup(t);
  const r = release('2.0.0');
  const result = await updates.request(r);
  t.match(result, { accepted: true, version: '2.0.0', attempt: /^[0-9a-f-]{36}$/ });
  const written = JSON.parse(readFileSync(requestFile, 'utf8')) as Record<string, unknown>;
  t.match(written, {
    attempt: result.attempt,
    manifest: r.manifest,
    sig: r.sig,
    url: r.url,
    gate: { cameras: ['cam1'], mqtt: true },
  });
  await t.rejects(
    updates.request(release('2.0.1')),
    { code: 'busy', message: /request is waiting/ },
    'while it waits for the updater',
  );
  rmSync(requestFile);
  writeState({ state: 'verifying-health', version: '2.0.0', reason: null, attempt: result.attempt });
  await t.rejects(
    updates.request(release('2.0.1')),
    { code: 'busy', message: /update to 2\.0\.0 is in progress \(verifying-health\)/ },
    'while the updater works',
  );
  writeState({ state: 'rolled-back', version: '2.0.0', reason: 'x', attempt: result.attempt });
  await t.resolves(updates.request(release('2.0.1')), 'and accepted again once it ended');
});

t.test('refused: the running version, another architecture, a checkout (no installed release)', async (t) => {
  const { updates } = setup(t);
  await t.rejects(updates.request(release('1.0.0')), { code: 'bad_request', message: /1\.0\.0 is already running/ });
  const foreign = release('2.0.0');
  await t.rejects(
    updates.request({ ...foreign, manifest: { ...foreign.manifest, arch: machineArch() === 'x64' ? 'arm64' : 'x64' } }),
    { code: 'bad_request', message: /this board is/ },
  );
  const checkout = setup(t, { app: false });
  await t.rejects(checkout.updates.request(release('2.0.0')), { code: 'unsupported' });
});

t.test("R/release follows the updater's state file: running, previous, update", async (t) => {
  const { dir, updates, published, writeState } = setup(t);
  await updates.start();
  t.match(published.at(-1), { running: '1.0.0', previous: '0.9.0', update: null });
  writeState({ state: 'downloading', version: '2.0.0', reason: null, attempt: 'a' });
  await waitFor('downloading published', () => published.at(-1)?.update?.state === 'downloading', 5000, 10);
  writeState({ state: 'failed', version: '2.0.0', reason: 'the server answered 404', attempt: 'a' });
  await waitFor('failed published', () => published.at(-1)?.update?.state === 'failed', 5000, 10);
  t.same(published.at(-1)?.update, { state: 'failed', version: '2.0.0', reason: 'the server answered 404' });
  const count = published.length;
  await new Promise((r) => setTimeout(r, 100));
  t.equal(published.length, count, 'nothing new while nothing changes');
  // The updater switches the links while this agent still runs: previous (now this release) is not reported yet.
  rmSync(path.join(dir, 'app/current'));
  rmSync(path.join(dir, 'app/previous'));
  symlinkSync('releases/2.0.0', path.join(dir, 'app/current'));
  symlinkSync('releases/1.0.0', path.join(dir, 'app/previous'));
  writeState({ state: 'switching', version: '2.0.0', reason: null, attempt: 'b' });
  await waitFor('switching published', () => published.at(-1)?.update?.state === 'switching', 5000, 10);
  t.match(
    published.at(-1),
    { running: '1.0.0', previous: '0.9.0' },
    'running and previous as they are until the restart',
  );
});

t.test("a poll between the updater's two link changes keeps the last previous", async (t) => {
  const { dir, updates, published, writeState } = setup(t);
  await updates.start();
  t.match(published.at(-1), { running: '1.0.0', previous: '0.9.0' });
  // Half a switch: previous already names this release, current still does too.
  rmSync(path.join(dir, 'app/previous'));
  symlinkSync('releases/1.0.0', path.join(dir, 'app/previous'));
  writeState({ state: 'switching', version: '2.0.0', reason: null, attempt: 'c' });
  await waitFor('switching published', () => published.at(-1)?.update?.state === 'switching', 5000, 10);
  t.match(published.at(-1), { running: '1.0.0', previous: '0.9.0' }, 'not the running release as its own previous');
});

t.test('R/release/desired: handled once per document; the running version is a no-op; refusals reported', async (t) => {
  const { updates, published, requestFile, memory } = setup(t);
  await updates.start();
  const doc = Buffer.from(JSON.stringify(release('2.0.0')));
  updates.handleDesired(doc);
  await updates.idle();
  t.ok(existsSync(requestFile), 'a request for 2.0.0');
  rmSync(requestFile);
  updates.handleDesired(doc);
  await updates.idle();
  t.notOk(existsSync(requestFile), 'the same document again (a reconnect) changes nothing');
  updates.handleDesired(Buffer.from(JSON.stringify(release('1.0.0'))));
  await updates.idle();
  t.notOk(existsSync(requestFile), 'the running version: nothing to do');
  t.ok(memory(), 'but remembered');
  updates.handleDesired(Buffer.from(JSON.stringify({ ...release('3.0.0'), sig: 'ee'.repeat(64) })));
  await updates.idle();
  t.match(
    published.at(-1),
    { running: '1.0.0', update: { state: 'failed', version: '3.0.0', reason: /does not match any key/ } },
    'a bad signature is reported on R/release',
  );
  updates.handleDesired(Buffer.from('{"manifest":1,"extra":true}'));
  await updates.idle();
  t.match(published.at(-1)?.update, { state: 'failed', version: null, reason: /unknown field\(s\) "extra"/ });
  updates.handleDesired(Buffer.alloc(0));
  await updates.idle();
  t.notOk(existsSync(requestFile), 'an empty payload (the topic cleared) is no document');
});

t.test('R/release/desired while an update runs: kept, handled when it ends (the newest only)', async (t) => {
  const { updates, requestFile, writeState } = setup(t);
  writeState({ state: 'switching', version: '2.0.0', reason: null, attempt: 'a' });
  await updates.start();
  updates.handleDesired(Buffer.from(JSON.stringify(release('3.0.0'))));
  updates.handleDesired(Buffer.from(JSON.stringify(release('3.1.0'))));
  await updates.idle();
  t.notOk(existsSync(requestFile), 'nothing requested while busy');
  writeState({ state: 'done', version: '2.0.0', reason: null, attempt: 'a' });
  await waitFor('the waiting document requested', () => existsSync(requestFile), 5000, 10);
  await updates.idle();
  t.match(JSON.parse(readFileSync(requestFile, 'utf8')), { manifest: { version: '3.1.0' } }, 'the newest');
});

t.test(
  'with a command key, R/release/desired needs its command signature, the release signature in releaseSig',
  async (t) => {
    const unsigned = setup(t, { signingRequired: true, desiredSigned: false });
    await unsigned.updates.start();
    const r = release('2.0.0');
    unsigned.updates.handleDesired(
      Buffer.from(JSON.stringify({ manifest: r.manifest, releaseSig: r.sig, url: r.url, sig: 'ab'.repeat(32) })),
    );
    await unsigned.updates.idle();
    t.notOk(existsSync(unsigned.requestFile));
    t.match(unsigned.published.at(-1)?.update, { state: 'failed', reason: /needs its command signature/ });
    const signed = setup(t, { signingRequired: true, desiredSigned: true });
    await signed.updates.start();
    signed.updates.handleDesired(
      Buffer.from(
        JSON.stringify({
          manifest: r.manifest,
          releaseSig: r.sig,
          url: r.url,
          sig: 'ab'.repeat(32),
          ts: '2026-01-01T00:00:00Z',
        }),
      ),
    );
    await signed.updates.idle();
    t.ok(existsSync(signed.requestFile), 'accepted with both signatures');
  },
);

t.test('a request no updater takes is withdrawn and reported (no path unit installed)', async (t) => {
  const { updates, published, requestFile } = setup(t, { requestTimeoutMs: 100 });
  await updates.start();
  await updates.request(release('2.0.0'));
  // The file goes first, the report follows: wait for both.
  await waitFor(
    'the request withdrawn and reported',
    () => !existsSync(requestFile) && published.at(-1)?.update?.state === 'failed',
    5000,
    10,
  );
  t.notOk(existsSync(requestFile), 'the request file is gone');
  t.match(published.at(-1)?.update, { state: 'failed', reason: /no updater took the request/ });
});

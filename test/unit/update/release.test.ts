/** The agent's check of an update request: strict shape, and the release signature against the board's keys. */
import { generateKeyPairSync, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { AgentError } from '../../../agent/contract/errors.js';
import { assertReleaseSigned, manifestText, parseUpdateRequest } from '../../../agent/update/release.js';
import { canonicalJson } from '../../../agent/link/signature.js';

const manifest = { arch: 'x64', sha256: 'ab'.repeat(32), size: 1234, version: '2.0.0' };
const sig = 'cd'.repeat(64);
const url = 'https://releases.example/edge-agent-2.0.0-linux-x64.tar.gz';

t.test('manifestText is the canonical JSON pack.sh signs, whatever the key order it arrived in', async (t) => {
  const shuffled = { version: '2.0.0', size: 1234, arch: 'x64', sha256: 'ab'.repeat(32) };
  t.equal(manifestText(shuffled), canonicalJson(manifest));
  t.equal(manifestText(shuffled), '{"arch":"x64","sha256":"' + 'ab'.repeat(32) + '","size":1234,"version":"2.0.0"}');
});

const bad: Array<[string, Record<string, unknown>, RegExp]> = [
  ['no manifest', { sig, url }, /manifest must be an object/],
  [
    "an extra manifest field (signed text must be exactly pack.sh's)",
    { manifest: { ...manifest, note: 'x' }, sig, url },
    /unknown field\(s\) "note"/,
  ],
  [
    'a version climbing out of releases/',
    { manifest: { ...manifest, version: '../../bin' }, sig, url },
    /not a version/,
  ],
  ['a version with ..', { manifest: { ...manifest, version: '1..2' }, sig, url }, /not a version/],
  ['an unknown arch', { manifest: { ...manifest, arch: 'mips' }, sig, url }, /arm64, armhf or x64/],
  ['an upper-case sha256', { manifest: { ...manifest, sha256: 'AB'.repeat(32) }, sig, url }, /lower-case hex/],
  ['a size of 0', { manifest: { ...manifest, size: 0 }, sig, url }, /positive integer/],
  ['an HMAC-length sig', { manifest, sig: 'ab'.repeat(32), url }, /128 hex digits/],
  ['sig and releaseSig both', { manifest, sig, releaseSig: sig, url }, /give the release signature once/],
  ['a file: url', { manifest, sig, url: 'file:///etc/passwd' }, /http:\/\/ or https:\/\//],
  ['no url', { manifest, sig }, /url must be an http\(s\) url/],
];
for (const [name, body, message] of bad) {
  t.test(`refused: ${name}`, async (t) => {
    let error: unknown;
    try {
      parseUpdateRequest(body);
    } catch (e) {
      error = e;
    }
    t.ok(error instanceof AgentError, 'an AgentError');
    t.match(error, { code: 'bad_request', message });
  });
}

t.test('accepted: sig, or releaseSig (the form beside a command signature), lower-cased', async (t) => {
  t.same(parseUpdateRequest({ manifest, sig, url }), { manifest, sig, url });
  t.same(parseUpdateRequest({ manifest, releaseSig: sig.toUpperCase(), url }), { manifest, sig, url });
});

t.test('the signature must be by a key in release-keys/; no key at all is its own refusal', async (t) => {
  const dir = t.testdir({ keys: {}, empty: {} });
  const keys = path.join(dir, 'keys');
  const operator = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519');
  writeFileSync(path.join(keys, 'operator.pem'), operator.publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(path.join(keys, 'notes.pem'), 'not a key');
  writeFileSync(
    path.join(keys, 'rsa.pem'),
    generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }),
  );
  const signed = (key: typeof operator.privateKey) => ({
    manifest,
    url,
    sig: sign(null, Buffer.from(manifestText(manifest)), key).toString('hex'),
  });
  await t.resolves(assertReleaseSigned(signed(operator.privateKey), keys), 'signed by the operator key');
  await t.rejects(assertReleaseSigned(signed(other.privateKey), keys), {
    code: 'unauthorized',
    message: /does not match any key/,
  });
  await t.rejects(
    assertReleaseSigned({ ...signed(operator.privateKey), manifest: { ...manifest, size: 1235 } }, keys),
    { code: 'unauthorized' },
    'a manifest changed after signing',
  );
  await t.rejects(assertReleaseSigned(signed(operator.privateKey), path.join(dir, 'empty')), {
    code: 'unauthorized',
    message: /no release key on this board/,
  });
});

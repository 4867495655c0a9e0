#!/usr/bin/env node
// Release manifests: {version, arch, sha256, size} of a tarball as canonical JSON (keys sorted,
// no white space: the same text whether it travels as a file or inside an MQTT command), and its
// Ed25519 signature in hex. Plain JavaScript on Node's own crypto, so pack.sh and a board's
// updater need nothing built.
//
//   manifest.mjs sign TARBALL VERSION ARCH PRIVATE_KEY.pem   writes <release>.manifest.json and .sig beside TARBALL
//   manifest.mjs verify MANIFEST.json SIG PUBLIC_KEY.pem [TARBALL]   exit 0 when signed by that key (and the tarball matches)
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { createReadStream, readFileSync, statSync, writeFileSync } from 'node:fs';

/** JSON with keys sorted at every level and no white space. */
export function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

async function sha256(file) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return hash.digest('hex');
}

function fail(message) {
  process.stderr.write(`manifest: ${message}\n`);
  process.exit(1);
}

const [command, ...args] = process.argv.slice(2);
if (command === 'sign') {
  const [tarball, version, arch, keyFile] = args;
  if (!tarball || !version || !arch || !keyFile) fail('usage: manifest.mjs sign TARBALL VERSION ARCH PRIVATE_KEY.pem');
  let key;
  try {
    key = createPrivateKey(readFileSync(keyFile));
  } catch (error) {
    fail(`cannot read the signing key ${keyFile}: ${error.message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') fail(`${keyFile} is a ${key.asymmetricKeyType} key; releases are signed with Ed25519 (openssl genpkey -algorithm ed25519)`);
  const text = canonicalJson({ version, arch, sha256: await sha256(tarball), size: statSync(tarball).size });
  const base = tarball.replace(/\.tar\.gz$/, '');
  writeFileSync(`${base}.manifest.json`, text);
  writeFileSync(`${base}.manifest.sig`, `${sign(null, Buffer.from(text), key).toString('hex')}\n`);
  process.stdout.write(`${base}.manifest.json\n${base}.manifest.sig\n`);
} else if (command === 'verify') {
  const [manifestFile, sigFile, keyFile, tarball] = args;
  if (!manifestFile || !sigFile || !keyFile) fail('usage: manifest.mjs verify MANIFEST.json SIG PUBLIC_KEY.pem [TARBALL]');
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
  const signature = Buffer.from(readFileSync(sigFile, 'utf8').trim(), 'hex');
  if (!verify(null, Buffer.from(canonicalJson(manifest)), createPublicKey(readFileSync(keyFile)), signature)) fail('the signature does not match the manifest and key');
  if (tarball) {
    if (statSync(tarball).size !== manifest.size) fail(`${tarball} is ${statSync(tarball).size} bytes, the manifest says ${manifest.size}`);
    if ((await sha256(tarball)) !== manifest.sha256) fail(`${tarball}'s sha256 differs from the manifest's`);
  }
  process.stdout.write(`ok ${manifest.version} ${manifest.arch}\n`);
} else {
  fail('usage: manifest.mjs sign|verify ...');
}

#!/usr/bin/env node
// Release manifests: {version, arch, sha256, size} of a tarball as canonical JSON (keys sorted,
// no white space: the same text whether it travels as a file or inside an MQTT command), and its
// Ed25519 signature in hex. Plain JavaScript on Node's own crypto, so pack.sh and a board's
// updater (deploy/lib/update/) need nothing built.
//
//   manifest.mjs sign TARBALL VERSION ARCH PRIVATE_KEY.pem   writes <release>.manifest.json and .sig beside TARBALL
//   manifest.mjs verify MANIFEST.json SIG PUBLIC_KEY.pem [TARBALL]   exit 0 when signed by that key (and the tarball matches)
//   manifest.mjs check-key PUBLIC_KEY.pem   exit 0 when the file is an Ed25519 public key (install.sh --release-key)
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { createReadStream, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** What install.sh accepts as a version: digits first, never `..` (it becomes a folder name). */
export const VERSION_PATTERN = /^[0-9][0-9A-Za-z.+_-]{0,63}$/;
const ARCHES = new Set(['arm64', 'armhf', 'x64']);
const FIELDS = ['arch', 'sha256', 'size', 'version'];

/** JSON with keys sorted at every level and no white space. */
export function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The sha256 of a file, hex. */
export async function sha256File(file) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return hash.digest('hex');
}

/** Why this is not a manifest pack.sh could have written, or null. */
export function manifestProblem(manifest) {
  if (!manifest || typeof manifest !== 'object' || Array.isArray(manifest))
    return 'the manifest must be an object {arch, sha256, size, version}';
  const extra = Object.keys(manifest).filter((k) => !FIELDS.includes(k));
  if (extra.length) return `the manifest has unknown field(s) ${extra.slice(0, 4).join(', ')}`;
  if (
    typeof manifest.version !== 'string' ||
    !VERSION_PATTERN.test(manifest.version) ||
    manifest.version.includes('..')
  )
    return 'manifest.version is not a version (digits first; letters, digits, . + _ -)';
  if (!ARCHES.has(manifest.arch)) return 'manifest.arch must be arm64, armhf or x64';
  if (typeof manifest.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(manifest.sha256))
    return 'manifest.sha256 must be 64 lower-case hex digits';
  if (!Number.isSafeInteger(manifest.size) || manifest.size <= 0) return 'manifest.size must be a positive integer';
  return null;
}

/** True when `sigHex` is an Ed25519 signature of the manifest's canonical JSON by one of `keys` (KeyObjects). */
export function signedByAny(manifest, sigHex, keys) {
  if (typeof sigHex !== 'string' || !/^[0-9a-fA-F]{128}$/.test(sigHex)) return false;
  const text = Buffer.from(canonicalJson(manifest));
  const signature = Buffer.from(sigHex, 'hex');
  return keys.some((key) => {
    try {
      return verify(null, text, key, signature);
    } catch {
      return false;
    }
  });
}

/** An Ed25519 public key from PEM text; throws naming the problem otherwise. */
export function ed25519PublicKey(pem, name = 'the key') {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519')
    throw new Error(`${name} is a ${key.asymmetricKeyType} key; releases are signed with Ed25519`);
  return key;
}

function fail(message) {
  process.stderr.write(`manifest: ${message}\n`);
  process.exit(1);
}

async function main(command, args) {
  if (command === 'sign') {
    const [tarball, version, arch, keyFile] = args;
    if (!tarball || !version || !arch || !keyFile)
      fail('usage: manifest.mjs sign TARBALL VERSION ARCH PRIVATE_KEY.pem');
    let key;
    try {
      key = createPrivateKey(readFileSync(keyFile));
    } catch (error) {
      fail(`cannot read the signing key ${keyFile}: ${error.message}`);
    }
    if (key.asymmetricKeyType !== 'ed25519')
      fail(
        `${keyFile} is a ${key.asymmetricKeyType} key; releases are signed with Ed25519 (openssl genpkey -algorithm ed25519)`,
      );
    const text = canonicalJson({ version, arch, sha256: await sha256File(tarball), size: statSync(tarball).size });
    const base = tarball.replace(/\.tar\.gz$/, '');
    writeFileSync(`${base}.manifest.json`, text);
    writeFileSync(`${base}.manifest.sig`, `${sign(null, Buffer.from(text), key).toString('hex')}\n`);
    process.stdout.write(`${base}.manifest.json\n${base}.manifest.sig\n`);
  } else if (command === 'verify') {
    const [manifestFile, sigFile, keyFile, tarball] = args;
    if (!manifestFile || !sigFile || !keyFile)
      fail('usage: manifest.mjs verify MANIFEST.json SIG PUBLIC_KEY.pem [TARBALL]');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
    if (!signedByAny(manifest, readFileSync(sigFile, 'utf8').trim(), [createPublicKey(readFileSync(keyFile))]))
      fail('the signature does not match the manifest and key');
    if (tarball) {
      if (statSync(tarball).size !== manifest.size)
        fail(`${tarball} is ${statSync(tarball).size} bytes, the manifest says ${manifest.size}`);
      if ((await sha256File(tarball)) !== manifest.sha256) fail(`${tarball}'s sha256 differs from the manifest's`);
    }
    process.stdout.write(`ok ${manifest.version} ${manifest.arch}\n`);
  } else if (command === 'check-key') {
    const [keyFile] = args;
    if (!keyFile) fail('usage: manifest.mjs check-key PUBLIC_KEY.pem');
    const pem = readFileSync(keyFile, 'utf8');
    // createPublicKey would derive the public half of a private key: refuse it, the secret must not travel.
    if (pem.includes('PRIVATE KEY'))
      fail(`${keyFile} is a private key; give its public half (openssl pkey -in KEY -pubout)`);
    try {
      ed25519PublicKey(pem, keyFile);
    } catch (error) {
      fail(`${keyFile} is not an Ed25519 public key in PEM: ${error.message}`);
    }
    process.stdout.write(`ok ${keyFile}\n`);
  } else {
    fail('usage: manifest.mjs sign|verify|check-key ...');
  }
}

// A library for the updater, a command for pack.sh and install.sh.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [command, ...args] = process.argv.slice(2);
  await main(command, args);
}

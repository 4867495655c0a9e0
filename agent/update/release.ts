/**
 * An update request as the agent receives it (`update` command, `R/release/desired`): a release
 * manifest `{arch, sha256, size, version}`, its Ed25519 signature and where to download it. The
 * agent checks the signature against the board's keys only to answer early; the root updater
 * checks it again and alone decides (deploy/lib/updater.mjs).
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { AgentError } from '../contract/errors.js';

/** pack.sh's manifest. */
export interface ReleaseManifest {
  arch: string;
  sha256: string;
  size: number;
  version: string;
}

/** A checked request. */
export interface UpdateRequest {
  manifest: ReleaseManifest;
  /** The Ed25519 signature of the manifest's canonical JSON, hex. */
  sig: string;
  url: string;
}

// install.sh's rule: digits first, never `..` (the version becomes a folder name as root).
const VERSION = /^[0-9][0-9A-Za-z.+_-]{0,63}$/;
const MANIFEST_FIELDS = ['arch', 'sha256', 'size', 'version'];

function bad(message: string): AgentError {
  return new AgentError('bad_request', message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks a manifest's shape strictly (it is signed as given, so nothing extra may ride along). */
export function parseManifest(value: unknown): ReleaseManifest {
  if (!isObject(value)) throw bad('manifest must be an object {arch, sha256, size, version}');
  const extra = Object.keys(value).filter((k) => !MANIFEST_FIELDS.includes(k));
  if (extra.length > 0)
    throw bad(
      `manifest has unknown field(s) ${extra
        .slice(0, 4)
        .map((k) => JSON.stringify(k).slice(0, 40))
        .join(', ')}`,
    );
  const { arch, sha256, size, version } = value;
  if (typeof version !== 'string' || !VERSION.test(version) || version.includes('..'))
    throw bad('manifest.version is not a version (digits first; letters, digits, . + _ -)');
  if (arch !== 'arm64' && arch !== 'armhf' && arch !== 'x64') throw bad('manifest.arch must be arm64, armhf or x64');
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256))
    throw bad('manifest.sha256 must be 64 lower-case hex digits');
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0)
    throw bad('manifest.size must be a positive integer');
  return { arch, sha256, size, version };
}

/**
 * Reads `{manifest, sig|releaseSig, url}`. `releaseSig` is where the release signature goes when
 * `sig` is taken by the command signature (a command key is configured); without one, the
 * contract's `sig` carries it.
 */
export function parseUpdateRequest(body: Record<string, unknown>): UpdateRequest {
  const manifest = parseManifest(body.manifest);
  if (body.sig !== undefined && body.releaseSig !== undefined)
    throw bad('give the release signature once: sig, or releaseSig when sig is the command signature');
  const sig = body.releaseSig ?? body.sig;
  if (typeof sig !== 'string' || !/^[0-9a-fA-F]{128}$/.test(sig))
    throw bad('the release signature (sig, or releaseSig) must be 128 hex digits (Ed25519)');
  const url = body.url;
  if (typeof url !== 'string' || url.length > 2048) throw bad('url must be an http(s) url of at most 2048 characters');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw bad('url is not a url');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw bad('url must be http:// or https://');
  return { manifest, sig: sig.toLowerCase(), url };
}

/** The manifest's signed text: canonical JSON (its four fields are scalars, so sorting the top level is enough). */
export function manifestText(manifest: ReleaseManifest): string {
  return JSON.stringify(Object.fromEntries(Object.entries(manifest).sort(([a], [b]) => (a < b ? -1 : 1))));
}

/** The Ed25519 keys in the board's release-keys folder (unreadable or other keys skipped). */
export async function releaseKeys(dir: string): Promise<KeyObject[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const keys: KeyObject[] = [];
  for (const name of names.filter((n) => n.endsWith('.pem')).sort()) {
    try {
      const key = createPublicKey(await readFile(path.join(dir, name)));
      if (key.asymmetricKeyType === 'ed25519') keys.push(key);
    } catch {
      // Not a key: the updater ignores it too.
    }
  }
  return keys;
}

/** Throws `unauthorized` unless one of the board's release keys signed the manifest. */
export async function assertReleaseSigned(request: UpdateRequest, keyDir: string): Promise<void> {
  const keys = await releaseKeys(keyDir);
  if (keys.length === 0)
    throw new AgentError(
      'unauthorized',
      `no release key on this board (${keyDir}): install one with install.sh --release-key FILE`,
    );
  const text = Buffer.from(manifestText(request.manifest));
  const signature = Buffer.from(request.sig, 'hex');
  if (!keys.some((key) => verify(null, text, key, signature))) {
    throw new AgentError('unauthorized', `the release signature does not match any key in ${keyDir}`);
  }
}

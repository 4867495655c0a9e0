/** Certificates made by openssl at test time, each with its own lifetime (for expiry and rotation tests). */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A certificate and its key, as PEM files. */
export interface CertFiles {
  crt: string;
  key: string;
}

const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A self-signed CA valid for `days`. */
export function makeCa(dir: string, name: string, days: number): CertFiles {
  mkdirSync(dir, { recursive: true });
  const crt = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  ssl('req', '-x509', ...EC, '-keyout', key, '-out', crt, '-days', String(days), '-subj', `/CN=${name}`);
  return { crt, key };
}

/** A certificate for `cn` signed by `ca`, valid for `days`; a server one names 127.0.0.1 and localhost. */
export function makeCert(
  dir: string,
  name: string,
  cn: string,
  days: number,
  ca: CertFiles,
  server = false,
): CertFiles {
  mkdirSync(dir, { recursive: true });
  const crt = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  ssl('req', ...EC, '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, server ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' : 'extendedKeyUsage=clientAuth\n');
  ssl(
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.crt,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-out',
    crt,
    '-days',
    String(days),
    '-extfile',
    ext,
  );
  return { crt, key };
}

/**
 * The broker TLS files (`mqtt.ca`, `mqtt.cert`, `mqtt.key`) over their lifetime (issue 15 item 5):
 * how long the CA and the client certificate have left, for R/health, /api/status and the doctor,
 * and a checked re-read for every reconnect, so certificates replaced on disk are used without
 * restarting the agent. A half-done replacement (a new certificate beside the old key, a file
 * being written) is refused and the files in use are kept.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { MqttConfig } from '../config/types.js';
import { AgentError } from '../contract/errors.js';

/** Under this many days left, a certificate is reported as a warning. */
export const TLS_WARN_DAYS = 30;

const DAY_MS = 86_400_000;

/** One certificate file's expiry. For a bundle (a CA file with several), the certificate that expires first. */
export interface CertificateExpiry {
  file: string;
  subject: string;
  notAfter: string;
  /** Whole days left (negative once expired). */
  daysLeft: number;
  status: 'ok' | 'warn' | 'expired';
}

/** A certificate file that could not be read or parsed. */
export interface CertificateProblem {
  file: string;
  error: string;
}

/** What is known about one configured certificate file. */
export type CertificateReport = CertificateExpiry | CertificateProblem;

/** The configured CA and client certificate; a key is absent when its file is not configured. */
export interface TlsExpiry {
  ca?: CertificateReport;
  cert?: CertificateReport;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function certificates(file: string): X509Certificate[] {
  const text = readFileSync(file, 'utf8');
  const blocks = text.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new Error('no PEM certificate in it');
  return blocks.map((pem) => new X509Certificate(pem));
}

function message(error: unknown): string {
  return ((error as Error).message || String(error))
    .replace(/^ENOENT: no such file or directory.*/, 'no such file')
    .slice(0, 200);
}

/** How long the certificate(s) in `file` have left at `now`. */
export function certificateExpiry(file: string, now = Date.now()): CertificateReport {
  let certs: X509Certificate[];
  try {
    certs = certificates(file);
  } catch (error) {
    return { file, error: `cannot read a certificate from ${file}: ${message(error)}` };
  }
  // validTo is "Dec  5 14:00:00 2027 GMT"; Node 20 has no validToDate yet.
  const first = certs.map((c) => ({ c, end: new Date(c.validTo).getTime() })).sort((a, b) => a.end - b.end)[0]!;
  const daysLeft = Math.floor((first.end - now) / DAY_MS);
  const status = first.end <= now ? 'expired' : daysLeft < TLS_WARN_DAYS ? 'warn' : 'ok';
  return {
    file,
    subject: first.c.subject.replace(/\n/g, ', '),
    notAfter: new Date(first.end).toISOString(),
    daysLeft,
    status,
  };
}

/** The expiry of the configured CA and client certificate, or null when no TLS file is configured. */
export function tlsExpiry(mqtt: Pick<MqttConfig, 'ca' | 'cert'>, now = Date.now()): TlsExpiry | null {
  if (mqtt.ca === null && mqtt.cert === null) return null;
  const out: TlsExpiry = {};
  if (mqtt.ca !== null) out.ca = certificateExpiry(mqtt.ca, now);
  if (mqtt.cert !== null) out.cert = certificateExpiry(mqtt.cert, now);
  return out;
}

/** One line for a report: "expires 2027-01-01 (12 days left)". */
export function describeExpiry(report: CertificateReport): string {
  if ('error' in report) return report.error;
  const day = report.notAfter.slice(0, 10);
  if (report.status === 'expired') return `${report.file} (${report.subject}) expired on ${day}`;
  return `${report.file} (${report.subject}) expires ${day} (${report.daysLeft} days left)`;
}

/** The PEM contents MQTT.js connects with. */
export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** One of `mqtt.ca|cert|key` as bytes (undefined when unset); an unreadable file is a config error naming it. */
export function readPem(path: string | null, key: string): Buffer | undefined {
  if (path === null) return undefined;
  try {
    return readFileSync(path);
  } catch (error) {
    throw new AgentError('config_invalid', `mqtt.${key} cannot be read: ${path}`, { cause: error });
  }
}

/**
 * Reads the TLS files and checks they belong together: every certificate parses, the key parses,
 * and the client certificate is the key's. Throws AgentError('config_invalid') naming the file.
 */
export function readTlsMaterial(mqtt: Pick<MqttConfig, 'ca' | 'cert' | 'key'>): TlsMaterial {
  const out: TlsMaterial = {};
  const ca = readPem(mqtt.ca, 'ca');
  const cert = readPem(mqtt.cert, 'cert');
  const key = readPem(mqtt.key, 'key');
  const check = (file: string, key: string, fn: () => void) => {
    try {
      fn();
    } catch (error) {
      throw new AgentError('config_invalid', `mqtt.${key} ${file}: ${message(error)}`, { cause: error });
    }
  };
  if (ca && mqtt.ca) {
    check(mqtt.ca, 'ca', () => void certificates(mqtt.ca!));
    out.ca = ca;
  }
  if (cert && mqtt.cert) {
    check(mqtt.cert, 'cert', () => void certificates(mqtt.cert!));
    out.cert = cert;
  }
  if (key && mqtt.key) {
    check(mqtt.key, 'key', () => void createPrivateKey(key));
    out.key = key;
  }
  if (cert && key && mqtt.cert) {
    const leaf = new X509Certificate(cert);
    if (!leaf.checkPrivateKey(createPrivateKey(key))) {
      throw new AgentError(
        'config_invalid',
        `mqtt.cert ${mqtt.cert} does not match the private key in mqtt.key ${mqtt.key}`,
      );
    }
  }
  return out;
}

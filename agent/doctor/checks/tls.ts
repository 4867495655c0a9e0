/** The broker TLS files' lifetime: the CA and the client certificate, warned under 30 days. */
import { describeExpiry, tlsExpiry, TLS_WARN_DAYS, type CertificateReport } from '../../link/tlsFiles.js';
import { fail, ok, warn, type CheckResult, type DoctorContext } from '../types.js';

const RENEW =
  'replace the file (certificate and key together); the agent uses the new files at its next connect, no restart needed';

function line(name: string, report: CertificateReport): CheckResult {
  const detail = describeExpiry(report);
  if ('error' in report)
    return fail(name, detail, 'check the path in the config and that the file is PEM and readable by the agent');
  if (report.status === 'expired') return fail(name, detail, `the broker will refuse it: ${RENEW}`);
  if (report.status === 'warn') return warn(name, `${detail}: under ${TLS_WARN_DAYS} days`, RENEW);
  return ok(name, detail);
}

/** One line each for `mqtt.ca` and `mqtt.cert` when configured (nothing otherwise). */
export async function checkTls(ctx: DoctorContext): Promise<CheckResult[]> {
  const { mqtt } = ctx.config;
  if (mqtt.url === 'embedded') return [];
  const report = tlsExpiry(mqtt);
  if (!report) return [];
  const out: CheckResult[] = [];
  if (report.ca) out.push(line('tls ca', report.ca));
  if (report.cert) out.push(line('tls client cert', report.cert));
  return out;
}

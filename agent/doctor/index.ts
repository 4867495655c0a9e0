/** The doctor's checklist, in the order a technician reads it. */
import { checkBroker } from './checks/broker.js';
import { checkBrokerClients } from './checks/embeddedBroker.js';
import { checkCameras } from './checks/cameras.js';
import { checkClock } from './checks/clock.js';
import { checkDisk, checkSdWear } from './checks/disk.js';
import { checkEncoders } from './checks/encoders.js';
import { checkFfmpeg } from './checks/ffmpeg.js';
import { checkGemini } from './checks/gemini.js';
import { checkSystemd } from './checks/systemd.js';
import { checkThrottling } from './checks/throttling.js';
import { checkTls } from './checks/tls.js';
import { fail, ok, type CheckResult, type DoctorCheck, type DoctorContext } from './types.js';

export type { CheckResult, CheckStatus, DoctorCheck, DoctorContext } from './types.js';

/** The config loaded and valid, and the secrets it names readable. */
export const checkConfig: DoctorCheck = async (ctx) => {
  const where = ctx.configFile ?? 'built-in defaults (no config file)';
  const out: CheckResult[] = [
    ctx.configProblems.length === 0
      ? ok('config', where)
      : fail(
          'config',
          `${where}: ${ctx.configProblems.join('; ')}`,
          `fix the file (edge-agent config check ${ctx.configFile ?? 'FILE'}); the other checks use the defaults`,
        ),
  ];
  if (ctx.credentialsError) {
    out.push(
      fail(
        'credentials',
        ctx.credentialsError,
        'put the secret files in /etc/edge-agent-credentials/ and re-run install.sh; run doctor with sudo to read them',
      ),
    );
  }
  return out;
};

/** Every check, one concern each. */
export const ALL_CHECKS: Array<[string, DoctorCheck]> = [
  ['config', checkConfig],
  ['ffmpeg', checkFfmpeg],
  ['encoders', checkEncoders],
  ['cameras', checkCameras],
  ['disk', checkDisk],
  ['storage wear', checkSdWear],
  ['clock sync', checkClock],
  ['broker', checkBroker],
  ['broker clients', checkBrokerClients],
  ['tls', checkTls],
  ['gemini key', checkGemini],
  ['power/throttling', checkThrottling],
  ['systemd', checkSystemd],
];

/** Runs checks in order; a check that throws becomes a fail line instead of ending the doctor. */
export async function runChecks(
  ctx: DoctorContext,
  checks: Array<[string, DoctorCheck]> = ALL_CHECKS,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const [name, check] of checks) {
    try {
      const r = await check(ctx);
      results.push(...(Array.isArray(r) ? r : [r]));
    } catch (error) {
      results.push(
        fail(
          name,
          `the check itself failed: ${(error as Error).message}`,
          'report this with the output of edge-agent doctor --json',
        ),
      );
    }
  }
  return results;
}

const LABEL = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;

/** The human checklist: one line per check, the fix indented under warn and fail lines. */
export function formatChecks(results: CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length), 8);
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${LABEL[r.status]}  ${r.name.padEnd(width)}  ${r.detail}`);
    if (r.fix) lines.push(`${' '.repeat(width + 8)}fix: ${r.fix}`);
  }
  const fails = results.filter((r) => r.status === 'fail').length;
  const warns = results.filter((r) => r.status === 'warn').length;
  lines.push(
    '',
    fails ? `${fails} fail(s), ${warns} warning(s)` : warns ? `no fails, ${warns} warning(s)` : 'all checks ok',
  );
  return `${lines.join('\n')}\n`;
}

import { access } from 'node:fs/promises';
import path from 'node:path';
import { fail, ok, warn, type CheckResult, type DoctorContext } from '../types.js';

const NAME = 'clock sync';
const FIX =
  'archives are cut on the wall clock: sudo timedatectl set-ntp true, and let the board reach an NTP server (UDP 123) ' +
  'or set one in /etc/systemd/timesyncd.conf';

/**
 * The clock is NTP-synchronised: `timedatectl` when systemd answers, else timesyncd's flag file
 * (/run/systemd/timesync/synchronized, written once it has synchronised since boot).
 */
export async function checkClock(ctx: DoctorContext): Promise<CheckResult> {
  let answer: string | null = null;
  if (ctx.hasCommand('timedatectl')) {
    try {
      const r = await ctx.run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeoutMs: 5000 });
      if (r.code === 0) answer = r.stdout.trim();
    } catch {
      // Not answering (no systemd in a container): try the flag file.
    }
  }
  if (answer === 'yes') return ok(NAME, 'NTP synchronised (timedatectl)');
  if (answer === 'no') return fail(NAME, 'the clock is not NTP-synchronised (timedatectl)', FIX);
  const flag = path.join(ctx.root, 'run/systemd/timesync/synchronized');
  if (
    await access(flag).then(
      () => true,
      () => false,
    )
  )
    return ok(NAME, 'NTP synchronised (systemd-timesyncd)');
  return warn(NAME, 'unknown: timedatectl did not answer and timesyncd has not flagged a sync', FIX);
}

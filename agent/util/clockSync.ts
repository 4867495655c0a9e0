import { access } from 'node:fs/promises';
import { runChecked } from './run.js';

const CACHE_MS = 60_000;
let cached: { at: number; value: boolean } | null = null;

/**
 * Whether the system clock is NTP-synchronised: systemd-timesyncd's flag file, else timedatectl.
 * Boards without a real-time clock boot with a wrong time; archives made then are marked.
 * Where neither tells (a container), the clock is taken as synchronised.
 */
export async function isClockSynced(): Promise<boolean> {
  if (cached && Date.now() - cached.at < CACHE_MS) return cached.value;
  const value = await detect();
  cached = { at: Date.now(), value };
  return value;
}

async function detect(): Promise<boolean> {
  if (process.env.EDGE_AGENT_CLOCK_SYNCED === '0') return false;
  if (
    await access('/run/systemd/timesync/synchronized').then(
      () => true,
      () => false,
    )
  )
    return true;
  try {
    const stdout = await runChecked('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeoutMs: 3000 });
    return stdout.trim() === 'yes';
  } catch {
    return true;
  }
}

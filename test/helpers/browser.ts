/** What the headless-Chromium tests share: Debian's browser, its flags, and a test-side poll. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Debian's Chromium (apt-get install chromium): test/setup-machine.sh installs it. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * As root Chromium needs --no-sandbox, and without the background-networking flags it hammers
 * this machine's closed network at every start; video plays without a click.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required',
];

/** Whether FFmpeg runs here (the tests' cameras and clips need it). */
export function hasFfmpeg(): boolean {
  try {
    execFileSync('ffmpeg', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why a browser test cannot run here (no Chromium, or no FFmpeg for the camera), or null. */
export function browserTestBlocked(): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} missing: install Debian's chromium (apt-get install -y chromium) to run the browser test`;
  return hasFfmpeg() ? null : 'ffmpeg missing: install it (apt-get install -y ffmpeg) to run the browser test';
}

/** Polls a condition from the test side (the page's CSP forbids string evaluation in it). */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

import { isLoopback } from '../../config/checks.js';
import { redactSecrets } from '../../util/redact.js';
import { fail, ok, warn, type CheckResult, type DoctorContext } from '../types.js';

/** The Gemini API's public endpoint, used when analysis.baseUrl is null. */
export const DEFAULT_GEMINI_BASE_URL = 'https://generativelanguage.googleapis.com';

const KEY_FIX =
  'put the key in /etc/edge-agent-credentials/gemini-api-key (mode 600) and re-run deploy/install.sh, or set analysis.apiKeyFile';

/** Where the doctor sends the key unasked: Google's own endpoint over https, or a loopback host. */
export function keyMayGoTo(base: string): boolean {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    return false;
  }
  if (url.origin === new URL(DEFAULT_GEMINI_BASE_URL).origin) return true;
  return isLoopback(url.hostname.replace(/^\[|\]$/g, ''));
}

/**
 * Analysis has a key, and the API accepts it: one cheap call to the models list (no tokens
 * billed). Skipped when analysis is off; a key that cannot be checked (offline) is a warning.
 */
export async function checkGemini(ctx: DoctorContext): Promise<CheckResult> {
  const name = 'gemini key';
  const { enabled, baseUrl } = ctx.config.analysis;
  const key = ctx.credentials?.geminiApiKey ?? null;
  if (!enabled) return ok(name, key ? 'analysis off (a key is present)' : 'analysis off: no key needed');
  if (!key) return fail(name, 'analysis.enabled is true but no Gemini API key was found', KEY_FIX);
  const base = (baseUrl ?? DEFAULT_GEMINI_BASE_URL).replace(/\/+$/, '');
  // Run with sudo, the doctor reads whatever file analysis.apiKeyFile names: its content goes only
  // to Google's endpoint or this machine, unless the technician vouches for the endpoint (issue 15).
  if (!keyMayGoTo(base) && !ctx.trustBaseUrl) {
    return warn(
      name,
      `a key is present; not sent to ${redactSecrets(base)} (analysis.baseUrl is neither the Gemini API nor this machine)`,
      'if that endpoint is yours, check the key against it with edge-agent doctor --trust-base-url',
    );
  }
  let status: number;
  try {
    const res = await ctx.fetch(`${base}/v1beta/models?pageSize=1`, {
      headers: { 'x-goog-api-key': key },
      signal: AbortSignal.timeout(ctx.timeoutMs),
    });
    status = res.status;
    await res.body?.cancel();
  } catch (error) {
    const reason =
      (error as Error).name === 'TimeoutError'
        ? `no answer within ${ctx.timeoutMs / 1000} s`
        : (error as Error).message;
    return warn(
      name,
      `a key is present but ${base} could not be reached: ${reason}`,
      "check the board's internet access (HTTPS to the API); analyses queue until it works",
    );
  }
  if (status >= 200 && status < 300) return ok(name, `key accepted by ${base}`);
  if (status === 400 || status === 401 || status === 403)
    return fail(name, `key rejected by ${base} (HTTP ${status})`, `replace the key: ${KEY_FIX}`);
  return warn(
    name,
    `${base} answered HTTP ${status}; the key could not be confirmed`,
    'try again later; check analysis.baseUrl if you use a proxy',
  );
}

/**
 * The environment every child process gets (FFmpeg, ffprobe, capture producers, v4l2-ctl,
 * vcgencmd, timedatectl, the notify helper): an allow-list, never the agent's own environment.
 * The agent's may hold GEMINI_API_KEY, systemd's CREDENTIALS_DIRECTORY and whatever a unit or
 * a shell put there; a child that is fed a hostile stream or runs a plug-in has no need of them.
 */

/** Names passed on when set: finding programs, locale and time zone, and the loader. */
const NAMES = new Set([
  'PATH',
  'HOME',
  'TMPDIR',
  'LANG',
  'LANGUAGE',
  'TZ',
  'LD_LIBRARY_PATH',
  'LD_PRELOAD',
  'XDG_RUNTIME_DIR',
]);
/**
 * Prefixes passed on: locale categories, and the settings of the media stacks FFmpeg and the
 * producers load (GStreamer on Jetson, libcamera on the Pi, VA-API and CUDA on x86).
 */
const PREFIXES = ['LC_', 'GST_', 'LIBCAMERA_', 'LIBVA_', 'CUDA_', 'NVIDIA_'];
/** Never passed on, even when named in EDGE_AGENT_CHILD_ENV. */
const SECRET = /KEY|TOKEN|PASS|SECRET|CREDENTIAL|AUTH/i;

/**
 * `EDGE_AGENT_CHILD_ENV`: a comma-separated list of further names to pass on (diagnostics and
 * tests, e.g. libfaketime's FAKETIME_* settings); names that look like secrets are still refused.
 */
export const CHILD_ENV_EXTRA = 'EDGE_AGENT_CHILD_ENV';

/** The allow-listed part of `env`, plus `extra` (which wins). */
export function childEnv(extra: Record<string, string> = {}, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const wanted = new Set(
    (env[CHILD_ENV_EXTRA] ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter((name) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !SECRET.test(name)),
  );
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (NAMES.has(name) || wanted.has(name) || (PREFIXES.some((p) => name.startsWith(p)) && !SECRET.test(name)))
      out[name] = value;
  }
  // Without PATH a child could not find ffprobe or the producer; the agent always has one in practice.
  out.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  return { ...out, ...extra };
}

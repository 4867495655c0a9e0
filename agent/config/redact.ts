/**
 * The config as it may be shown: `config print`, the retained R/config topic and get-config
 * replies. Anything that is or leads to a secret reads "[redacted]".
 */
import type { AgentConfig } from './types.js';

/** What a hidden value reads as. */
export const REDACTED = '[redacted]';

/**
 * Hides the password in a URL's user info (`rtsp://admin:pw@cam/` → `rtsp://admin:[redacted]@cam/`).
 * Done on the text rather than through `URL`, which would percent-encode the brackets and
 * normalise the rest of what the user wrote.
 */
export function redactUrlPassword(value: string): string {
  const scheme = value.indexOf('://');
  if (scheme < 0) return value;
  const start = scheme + 3;
  const rest = value.slice(start);
  const end = rest.search(/[/?#]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  const at = authority.lastIndexOf('@');
  if (at < 0) return value;
  const userinfo = authority.slice(0, at);
  const colon = userinfo.indexOf(':');
  if (colon < 0) return value;
  return value.slice(0, start) + userinfo.slice(0, colon + 1) + REDACTED + rest.slice(at);
}

function hide<T>(value: T | null): T | string | null {
  return value === null ? null : REDACTED;
}

/**
 * A deep copy of `config` with secret-bearing values replaced: the *File paths and the TLS key
 * path (where secrets live tells an attacker what to read), and passwords inside URLs (the
 * broker url, the analysis endpoint and IP camera sources, which often carry rtsp credentials).
 */
export function redactConfig(config: AgentConfig): AgentConfig {
  const copy = structuredClone(config);
  const out = copy as unknown as {
    mqtt: Record<string, unknown>;
    analysis: Record<string, unknown>;
    http: Record<string, unknown>;
  };
  out.mqtt.passwordFile = hide(config.mqtt.passwordFile);
  out.mqtt.key = hide(config.mqtt.key);
  out.mqtt.commandKeyFile = hide(config.mqtt.commandKeyFile);
  out.analysis.apiKeyFile = hide(config.analysis.apiKeyFile);
  out.http.tokenFile = hide(config.http.tokenFile);
  copy.mqtt.url = redactUrlPassword(config.mqtt.url);
  if (config.analysis.baseUrl !== null) copy.analysis.baseUrl = redactUrlPassword(config.analysis.baseUrl);
  copy.cameras = config.cameras.map((cam) => ({ ...cam, source: redactUrlPassword(cam.source) }));
  return copy;
}

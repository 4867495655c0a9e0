/**
 * The config as it may be shown: `config print`, the retained R/config topic and get-config
 * replies. Anything that is or leads to a secret reads "[redacted]".
 */
import { REDACTED, redactSecrets } from '../util/redact.js';
import type { AgentConfig } from './types.js';

/** What a hidden value reads as. */
export { REDACTED };

/**
 * Hides the secrets of a URL: its user info password and secret query values
 * (`rtsp://admin:pw@cam/?token=t` → `rtsp://admin:[redacted]@cam/?token=[redacted]`); util/redact.ts.
 */
export const redactUrlPassword = redactSecrets;

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

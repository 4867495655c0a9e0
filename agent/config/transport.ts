/**
 * Plain-text transports carrying a secret (issue 15): a broker password over mqtt:// or ws://, the
 * Gemini key over an http:// analysis.baseUrl. Refused unless the host is loopback (the embedded
 * broker, a local proxy, the tests' fake Gemini: the secret never leaves the machine) or the
 * config file says `mqtt.allowInsecure` / `analysis.allowInsecure`.
 */
import { redactSecrets } from '../util/redact.js';
import { isLoopback } from './checks.js';
import { ConfigError } from '../contract/errors.js';
import type { AgentConfig } from './types.js';

/** Which secrets exist, wherever they come from (a *File key, a systemd credential, $GEMINI_API_KEY). */
export interface SecretsPresent {
  mqttPassword: boolean;
  apiKey: boolean;
}

function plainHost(url: string, plainSchemes: readonly string[]): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (!plainSchemes.includes(parsed.protocol)) return null;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  return isLoopback(host) ? null : host;
}

function hasUrlPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    return false;
  }
}

/** The secrets the config itself shows: *File keys and a password written into the broker URL. */
export function secretsInConfig(config: AgentConfig): SecretsPresent {
  return {
    mqttPassword: config.mqtt.passwordFile !== null || hasUrlPassword(config.mqtt.url),
    apiKey: config.analysis.apiKeyFile !== null,
  };
}

/** One line per secret that would cross the network in plain text; empty when none would. */
export function insecureTransportProblems(config: AgentConfig, secrets: SecretsPresent): string[] {
  const out: string[] = [];
  const broker = config.mqtt.url === 'embedded' ? null : plainHost(config.mqtt.url, ['mqtt:', 'ws:']);
  if (broker !== null && secrets.mqttPassword && !config.mqtt.allowInsecure) {
    out.push(
      `mqtt.url must be mqtts:// or wss:// when a broker password is configured (it would cross the network in plain text to ${broker}), got ${JSON.stringify(redactSecrets(config.mqtt.url))}; set mqtt.allowInsecure to true in the config file to allow it`,
    );
  }
  const api = config.analysis.baseUrl === null ? null : plainHost(config.analysis.baseUrl, ['http:']);
  if (api !== null && secrets.apiKey && !config.analysis.allowInsecure) {
    out.push(
      `analysis.baseUrl must be https:// when an api key is configured (it would cross the network in plain text to ${api}), got ${JSON.stringify(redactSecrets(config.analysis.baseUrl!))}; set analysis.allowInsecure to true in the config file to allow it`,
    );
  }
  return out;
}

/** Throws a ConfigError naming each secret that would cross the network in plain text. */
export function assertSecureTransports(
  config: AgentConfig,
  credentials: { mqttPassword: string | null; geminiApiKey: string | null },
): void {
  const problems = insecureTransportProblems(config, {
    mqttPassword: credentials.mqttPassword !== null,
    apiKey: credentials.geminiApiKey !== null,
  });
  if (problems.length > 0) throw new ConfigError(problems);
}

/**
 * Secrets never sit in the config itself: it names files (`*File` keys) and the agent reads them
 * here. Under systemd, `LoadCredential=` puts them in $CREDENTIALS_DIRECTORY, readable only by
 * the service, so a relative or unset path is looked up there by its well-known name.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../contract/errors.js';
import type { AgentConfig } from './types.js';

/** The secrets the agent uses; null where none is configured. */
export interface Credentials {
  mqttPassword: string | null;
  geminiApiKey: string | null;
  httpToken: string | null;
  commandKey: string | null;
}

/** The systemd credential name for each secret, as the unit file's LoadCredential= lines use them. */
export const CREDENTIAL_NAMES = {
  mqttPassword: 'mqtt-password',
  geminiApiKey: 'gemini-api-key',
  httpToken: 'http-token',
  commandKey: 'command-key',
} as const;

type Field = keyof Credentials;

function configuredPath(config: AgentConfig, field: Field): { key: string; file: string | null } {
  switch (field) {
    case 'mqttPassword':
      return { key: 'mqtt.passwordFile', file: config.mqtt.passwordFile };
    case 'geminiApiKey':
      return { key: 'analysis.apiKeyFile', file: config.analysis.apiKeyFile };
    case 'httpToken':
      return { key: 'http.tokenFile', file: config.http.tokenFile };
    case 'commandKey':
      return { key: 'mqtt.commandKeyFile', file: config.mqtt.commandKeyFile };
  }
}

/** Where to look for one secret, best first. */
function candidates(file: string | null, name: string, credDir: string | undefined): string[] {
  const out: string[] = [];
  if (file !== null && path.isAbsolute(file)) out.push(file);
  if (credDir) {
    if (file !== null && !path.isAbsolute(file)) out.push(path.join(credDir, file));
    out.push(path.join(credDir, name));
  }
  // Last resort for a relative path outside systemd: the working directory (a developer's checkout).
  if (file !== null && !path.isAbsolute(file)) out.push(path.resolve(file));
  return out;
}

function readSecret(file: string, key: string, problems: string[]): string | null {
  let value: string;
  try {
    value = readFileSync(file, 'utf8').trim();
  } catch (error) {
    problems.push(
      `${key} cannot be read from ${file}: ${(error as Error).message.replace(/, \w+ '.*'$/s, '').toLowerCase()}`,
    );
    return null;
  }
  if (value === '') {
    problems.push(`${key} must name a file holding the secret, got ${file}, which is empty`);
    return null;
  }
  return value;
}

/** The shortest command key accepted, bytes: a shorter HMAC key is open to guessing offline from one signed command. */
export const MIN_COMMAND_KEY_BYTES = 32;

function commandKeyPlace(config: AgentConfig, credDir: string | undefined): string {
  return (
    candidates(config.mqtt.commandKeyFile, CREDENTIAL_NAMES.commandKey, credDir).find((p) => existsSync(p)) ??
    'the command key'
  );
}

function checkKeyLength(value: string, file: string, problems: string[]): string | null {
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes >= MIN_COMMAND_KEY_BYTES) return value;
  problems.push(
    `mqtt.commandKeyFile must hold a key of at least ${MIN_COMMAND_KEY_BYTES} bytes (e.g. the output of openssl rand -hex 32), got ${bytes} bytes in ${file}`,
  );
  return null;
}

/**
 * Reads the secrets the config points at (trimmed). A configured file that cannot be read or
 * is empty is a ConfigError, never a silent null; the Gemini key falls back to $GEMINI_API_KEY.
 */
export function loadCredentials(config: AgentConfig, env: NodeJS.ProcessEnv = process.env): Credentials {
  const problems: string[] = [];
  const credDir = env.CREDENTIALS_DIRECTORY || undefined;
  const out: Credentials = { mqttPassword: null, geminiApiKey: null, httpToken: null, commandKey: null };
  for (const field of Object.keys(CREDENTIAL_NAMES) as Field[]) {
    const { key, file } = configuredPath(config, field);
    const list = candidates(file, CREDENTIAL_NAMES[field], credDir);
    const found = list.find((p) => existsSync(p));
    if (found !== undefined) out[field] = readSecret(found, key, problems);
    else if (file !== null)
      problems.push(`${key} must name a readable file, got ${JSON.stringify(file)}, which does not exist`);
  }
  if (out.commandKey !== null)
    out.commandKey = checkKeyLength(out.commandKey, commandKeyPlace(config, credDir), problems);
  if (out.geminiApiKey === null && env.GEMINI_API_KEY?.trim()) out.geminiApiKey = env.GEMINI_API_KEY.trim();
  if (problems.length > 0) throw new ConfigError(problems);
  return out;
}

/**
 * The logins of the embedded broker (`mqtt.url: "embedded"`). Nobody connects without one:
 *
 * - the agent's own client, as `edge-agent`, with a random password the agent makes at its first
 *   start and keeps in `<dataDir>/broker-credentials.json` (mode 0600);
 * - technicians' clients (mosquitto_sub, mosquitto_rr, a local bridge), as `technician`, with the
 *   password in the credential `mqtt-technician`: the file of that name in the credentials folder
 *   (systemd hands it over as `$CREDENTIALS_DIRECTORY/mqtt-technician`), or, where there is none
 *   (a first run from a checkout), `<dataDir>/mqtt-technician`, made at first start (mode 0600).
 *
 * Passwords are 32 random bytes (crypto.randomBytes), base64url: 256 bits, no shell quoting issues.
 */
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { AgentError } from '../contract/errors.js';
import type { Logger } from '../util/logger.js';

/** The agent's own user name on the embedded broker. */
export const AGENT_USERNAME = 'edge-agent';
/** The user name technicians' clients log in with. */
export const TECHNICIAN_USERNAME = 'technician';
/** The agent's own login, under dataDir. */
export const AGENT_CREDENTIAL_FILE = 'broker-credentials.json';
/** The technicians' password: a credential of this name, or this file under dataDir. */
export const TECHNICIAN_CREDENTIAL_NAME = 'mqtt-technician';

/** One user name and password. */
export interface BrokerLogin {
  username: string;
  password: string;
}

/** Everything the embedded broker checks a CONNECT against. */
export interface BrokerUsers {
  agent: BrokerLogin;
  technician: BrokerLogin;
  /** Where the technicians' password was read (for the log and the doctor; never the secret itself). */
  technicianFile: string;
}

/** A new random password: 32 bytes from the kernel's CSPRNG, base64url (43 characters). */
export function newPassword(): string {
  return randomBytes(32).toString('base64url');
}

/** Writes a secret whole, mode 0600 from its creation on: temp file (O_EXCL), fsync, rename. */
function writeSecret(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(tmp, file);
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** Makes a secret file that was left readable by others private again (a copy made with cp, say). */
function keepPrivate(file: string, log?: Logger): void {
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) === 0) return;
  chmodSync(file, 0o600);
  log?.warn({ file, mode: mode.toString(8) }, 'broker credential file was readable by others; made it 0600');
}

function readAgentLogin(file: string, log?: Logger): BrokerLogin | null {
  if (!existsSync(file)) return null;
  keepPrivate(file, log);
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<BrokerLogin>;
    if (parsed.username === AGENT_USERNAME && typeof parsed.password === 'string' && parsed.password.length >= 16) {
      return { username: parsed.username, password: parsed.password };
    }
  } catch {
    // Unreadable JSON: only the agent uses this login, so a new one replaces it below.
  }
  log?.warn({ file }, 'broker credential file is not a valid login; making a new one');
  return null;
}

/** The agent's own login: read from `<dataDir>/broker-credentials.json`, made at the first start. */
export function agentLogin(dataDir: string, log?: Logger): BrokerLogin {
  const file = path.join(dataDir, AGENT_CREDENTIAL_FILE);
  const found = readAgentLogin(file, log);
  if (found) return found;
  const login = { username: AGENT_USERNAME, password: newPassword() };
  writeSecret(file, `${JSON.stringify(login)}\n`);
  log?.info({ file }, 'made the embedded broker login of the agent');
  return login;
}

/**
 * Where the technicians' password is for an agent with this dataDir and environment: the systemd
 * credential when the credentials folder has one, else `<dataDir>/mqtt-technician`.
 */
export function technicianFile(dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const credDir = env.CREDENTIALS_DIRECTORY;
  if (credDir) {
    const loaded = path.join(credDir, TECHNICIAN_CREDENTIAL_NAME);
    if (existsSync(loaded)) return loaded;
  }
  return path.join(dataDir, TECHNICIAN_CREDENTIAL_NAME);
}

/** The technicians' login; the dataDir file is made at the first start when no credential names one. */
export function technicianLogin(
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
  log?: Logger,
): { login: BrokerLogin; file: string } {
  const file = technicianFile(dataDir, env);
  const own = file === path.join(dataDir, TECHNICIAN_CREDENTIAL_NAME);
  if (own && !existsSync(file)) {
    writeSecret(file, `${newPassword()}\n`);
    log?.info({ file }, 'made the embedded broker password for technicians');
  }
  if (own) keepPrivate(file, log);
  let password: string;
  try {
    password = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new AgentError('config_invalid', `the technician broker password cannot be read from ${file}`, {
      cause: error,
    });
  }
  if (password.length < 12) {
    throw new AgentError(
      'config_invalid',
      `the technician broker password in ${file} must be at least 12 characters, got ${password.length}`,
    );
  }
  return { login: { username: TECHNICIAN_USERNAME, password }, file };
}

/** Both logins of the embedded broker, made where missing. */
export function loadBrokerUsers(dataDir: string, env: NodeJS.ProcessEnv = process.env, log?: Logger): BrokerUsers {
  const agent = agentLogin(dataDir, log);
  const { login, file } = technicianLogin(dataDir, env, log);
  return { agent, technician: login, technicianFile: file };
}

/** Compares a presented password with the expected one in constant time (hashes first: lengths differ). */
export function samePassword(presented: Buffer | undefined, expected: string): boolean {
  if (!presented) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

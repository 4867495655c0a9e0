/**
 * The embedded broker seen from a technician's side: does it accept the technicians' login, and
 * how to use that login with mosquitto_sub / mosquitto_rr. The password is never printed: the
 * commands read it from its file (`$(sudo cat FILE)`), so it stays out of logs and shell history.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TECHNICIAN_CREDENTIAL_NAME, TECHNICIAN_USERNAME } from '../../link/brokerUsers.js';
import { fail, ok, warn, type CheckResult, type DoctorContext } from '../types.js';

/** Where the embedded broker listens (mqttLink.ts starts it there). */
export const EMBEDDED_HOST = '127.0.0.1';
export const EMBEDDED_PORT = 1883;

/** The technicians' password files the agent may be using, in the agent's own order (brokerUsers.ts). */
export function technicianFiles(ctx: DoctorContext): string[] {
  const files: string[] = [];
  if (ctx.credentialsDir) files.push(path.join(ctx.credentialsDir, TECHNICIAN_CREDENTIAL_NAME));
  files.push(path.join(ctx.config.dataDir, TECHNICIAN_CREDENTIAL_NAME));
  return files.filter((f) => existsSync(f));
}

/** A shell-safe single-quoted word. */
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The commands a technician runs on the board, reading the password from `file`. */
export function technicianCommands(ctx: DoctorContext, file: string): string {
  const root = `${ctx.config.mqtt.topicPrefix}/${ctx.config.device.id}`;
  const login = `-h ${EMBEDDED_HOST} -p ${EMBEDDED_PORT} -u ${TECHNICIAN_USERNAME} -P "$(sudo cat ${q(file)})"`;
  // aedes speaks MQTT 3.1.1: the reply topic and id go in the body (contract "Commands").
  const reply = `replies/${ctx.config.device.id}/technician`;
  const body = JSON.stringify({ replyTo: reply, id: 'doctor' });
  return [
    `read: mosquitto_sub ${login} -t ${q(`${root}/#`)} -v`,
    `ask: mosquitto_rr -V 311 ${login} -t ${q(`${root}/cmd/ping`)} -e ${q(reply)} -m ${q(body)}`,
  ].join('; ');
}

/** Logs in to the running embedded broker with each technician password file; the first that works wins. */
export async function checkEmbeddedLogin(ctx: DoctorContext): Promise<CheckResult> {
  const name = 'broker';
  const where = `embedded broker inside the agent (${EMBEDDED_HOST}:${EMBEDDED_PORT})`;
  const files = technicianFiles(ctx);
  if (files.length === 0) {
    return ok(
      name,
      `${where}: no technician password yet (the agent makes ${path.join(ctx.config.dataDir, TECHNICIAN_CREDENTIAL_NAME)} at its first start)`,
    );
  }
  const config = {
    ...ctx.config,
    mqtt: {
      ...ctx.config.mqtt,
      url: `mqtt://${EMBEDDED_HOST}:${EMBEDDED_PORT}`,
      username: TECHNICIAN_USERNAME,
      ca: null,
      cert: null,
      key: null,
    },
  };
  const refused: string[] = [];
  for (const file of files) {
    let password: string;
    try {
      password = readFileSync(file, 'utf8').trim();
    } catch {
      return warn(name, `${where}: cannot read ${file} to try the technician login`, 'run the doctor with sudo');
    }
    const credentials = {
      geminiApiKey: null,
      httpToken: null,
      commandKey: null,
      ...ctx.credentials,
      mqttPassword: password,
    };
    try {
      await ctx.mqttConnect(config, credentials, ctx.timeoutMs);
      return ok(name, `${where} accepted the technician login (password in ${file})`);
    } catch (error) {
      const message = (error as Error).message || String(error);
      if (/ECONNREFUSED/i.test(message)) return ok(name, `${where}: not listening now (the agent is not running)`);
      refused.push(`${file}: ${message}`);
    }
  }
  return fail(
    name,
    `${where} refused the technician login: ${refused.join('; ')}`,
    'the agent reads the technician password when its link starts: restart the agent after changing the file (sudo systemctl restart edge-agent)',
  );
}

/** With the embedded broker: how technicians log in (one line; nothing for an outside broker). */
export async function checkBrokerClients(ctx: DoctorContext): Promise<CheckResult[]> {
  if (ctx.config.mqtt.url !== 'embedded') return [];
  const [file] = technicianFiles(ctx);
  if (!file) return [];
  return [
    ok(
      'broker clients',
      `log in as ${TECHNICIAN_USERNAME}, password in ${file} (mode 600). ${technicianCommands(ctx, file)}`,
    ),
  ];
}

/** A throw-away MQTT connection for the doctor: connect, wait for CONNACK, disconnect. */
import { readFileSync } from 'node:fs';
import { connect, type IClientOptions } from 'mqtt';
import type { Credentials } from '../config/load.js';
import type { AgentConfig } from '../config/types.js';

/**
 * Connects with the configured login and TLS files. Its own client id (never the agent's: a
 * broker drops the older of two sessions with one id) and no will: a doctor that dies must not
 * publish "offline" for a running agent. MQTT 3.1.1 so any broker can answer.
 */
export function mqttConnect(config: AgentConfig, credentials: Credentials | null, timeoutMs: number): Promise<void> {
  const { mqtt } = config;
  const options: IClientOptions = {
    clientId: `${config.device.id}-doctor-${process.pid}`,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
    ...(mqtt.username !== null ? { username: mqtt.username } : {}),
    ...(credentials?.mqttPassword ? { password: credentials.mqttPassword } : {}),
    ...(mqtt.ca ? { ca: readFileSync(mqtt.ca) } : {}),
    ...(mqtt.cert ? { cert: readFileSync(mqtt.cert) } : {}),
    ...(mqtt.key ? { key: readFileSync(mqtt.key) } : {}),
  };
  return new Promise((resolve, reject) => {
    const client = connect(mqtt.url, options);
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.end(true);
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs / 1000} s`)), timeoutMs);
    client.on('connect', () => finish());
    client.on('error', (error) => finish(error));
    client.on('close', () => finish(new Error('connection closed before the broker answered')));
  });
}

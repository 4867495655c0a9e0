/** Builds MQTT.js connect options from the config: pure apart from reading the TLS files. */
import type { IClientOptions } from 'mqtt';
import type { MqttConfig } from '../config/types.js';
import { AgentError } from '../contract/errors.js';
import type { StatusMessage } from '../contract/messages.js';
import { redactSecrets } from '../util/redact.js';
import { MAX_INCOMING_PACKET_BYTES } from './packetLimit.js';
import { readPem } from './tlsFiles.js';

/** Everything the link decides before connecting. */
export interface ConnectPlan {
  url: string;
  options: IClientOptions;
}

/** The inputs of a connect plan. */
export interface ConnectInputs {
  mqtt: MqttConfig;
  /** The broker URL actually used (the embedded broker's URL when `mqtt.url` is `embedded`). */
  url: string;
  clientId: string;
  password: string | null;
  protocolVersion: 4 | 5;
  willTopic: string;
  will: StatusMessage;
  reconnectPeriodMs: number;
}

const SCHEMES = ['mqtt:', 'mqtts:', 'ws:', 'wss:'];

/** The URL with any user:password removed, safe for logs and status. */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return redactSecrets(parsed.toString());
  } catch {
    return '[invalid url]';
  }
}

/** MQTT.js options: our own reconnect timing, keepalive 30 s, retained offline will, no QoS 0 queue. */
export function connectPlan(input: ConnectInputs): ConnectPlan {
  let scheme: string;
  try {
    scheme = new URL(input.url).protocol;
  } catch (error) {
    throw new AgentError('config_invalid', `mqtt.url must be a URL or "embedded", got ${safeUrl(input.url)}`, {
      cause: error,
    });
  }
  if (!SCHEMES.includes(scheme)) {
    throw new AgentError('config_invalid', `mqtt.url must use mqtt, mqtts, ws or wss, got ${scheme}`);
  }
  const { mqtt } = input;
  const options: IClientOptions = {
    clientId: input.clientId,
    protocolVersion: input.protocolVersion,
    // 30 s: the broker sees a dead board within 45 s (1.5 × keepalive), inside the minute promised.
    keepalive: 30,
    clean: true,
    connectTimeout: 10_000,
    reconnectPeriod: input.reconnectPeriodMs,
    // A refused CONNACK (bad password, server busy) would otherwise stop reconnecting for good.
    reconnectOnConnackError: true,
    // We subscribe on every connect ourselves.
    resubscribe: false,
    // QoS 0 (health) is useless late, and MQTT.js's offline queue is unbounded.
    queueQoSZero: false,
    will: { topic: input.willTopic, payload: Buffer.from(JSON.stringify(input.will)), qos: 1, retain: true },
    // MQTT 5: the broker must not send us more (Mosquitto drops such a message for this client).
    // 3.1.1 has no such field; PacketLimitStream enforces the same cap on our side for both.
    properties: { maximumPacketSize: MAX_INCOMING_PACKET_BYTES },
    // mqtt-packet otherwise pre-builds a Buffer for each of the 65,536 message ids at the first
    // packet written: 6 MB of V8 heap kept for the process's life, to save one 2-byte allocation
    // per packet (issue 20, memory; the setting is process-wide, so aedes gets it too).
    writeCache: false,
  };
  if (mqtt.username !== null) options.username = mqtt.username;
  if (input.password !== null) options.password = input.password;
  if (scheme === 'mqtts:' || scheme === 'wss:') {
    const ca = readPem(mqtt.ca, 'ca');
    const cert = readPem(mqtt.cert, 'cert');
    const key = readPem(mqtt.key, 'key');
    if (ca) options.ca = ca;
    if (cert) options.cert = cert;
    if (key) options.key = key;
    options.rejectUnauthorized = true;
  }
  return { url: input.url, options };
}

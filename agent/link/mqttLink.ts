/**
 * The MQTT link: one MQTT.js client per agent, retained status and will, command subscription,
 * our own jittered reconnect, and the outbox drained whenever the broker is reachable.
 */
import type { Duplex } from 'node:stream';
import type { IPublishPacket, MqttClient } from 'mqtt';
import type { AgentConfig } from '../config/types.js';
import type { StatusMessage, TopicPayloads } from '../contract/messages.js';
import {
  buildTopics,
  commandName,
  isSafeReplyTopic,
  type Topic,
  type TopicKind,
  type Topics,
} from '../contract/topics.js';
import type { Outbox } from '../outbox/outbox.js';
import { OutboxSender } from '../outbox/sender.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { connectPlan, safeUrl } from './connectOptions.js';
import { loadBrokerUsers } from './brokerUsers.js';
import type { EmbeddedBroker } from './embeddedBroker.js';
import { PacketLimitStream, type OversizedPacket } from './packetLimit.js';
import { ReconnectPolicy, type ReconnectOptions } from './reconnect.js';
import { readTlsMaterial, tlsExpiry, type TlsExpiry } from './tlsFiles.js';
import type { CommandDispatcher, OutgoingReply } from './router.js';

/** What the link needs; agent.ts builds it. */
export interface MqttLinkDeps {
  /** The current effective config (read at start, so a restart picks up changes). */
  config: () => AgentConfig;
  /** The broker password from `mqtt.passwordFile` (credentials), or null. */
  password: () => string | null;
  log: Logger;
  version: string;
  /** When the agent started (ISO), carried in R/status. */
  startedAt: string;
  outbox: Outbox;
  router: CommandDispatcher;
  clock?: Clock;
  reconnect?: ReconnectOptions;
  /** Port of the embedded broker (tests); 1883 by default. */
  embeddedPort?: number;
  /** The protocol tried first (tests force 3.1.1 against a broker that speaks 5); 5 by default. */
  protocolVersion?: 4 | 5;
  /**
   * The next session number, persisted and increasing: taken before every connect attempt, it goes
   * into that attempt's will and its online status so a consumer can drop an older session's will.
   */
  nextSession?: () => number;
  /** Called with each message on `R/config/desired` (retained: delivered again at every subscribe). */
  onDesired?: (payload: Buffer) => void;
  /** Called with each message on `R/release/desired` (retained, like the desired config). */
  onReleaseDesired?: (payload: Buffer) => void;
}

/** A reply that could not be sent yet: kept for the next connection, dropped after a while. */
interface PendingReply {
  reply: OutgoingReply;
  until: number;
}

// Replies wait this long for a connection; the requester has given up long before.
const PENDING_REPLY_MS = 10 * 60_000;
const MAX_PENDING_REPLIES = 100;

/** The link's state for /api/status and `doctor`. */
export interface LinkStatus {
  connected: boolean;
  url: string | null;
  protocolVersion: 4 | 5;
  connects: number;
  failures: number;
  lastError: string | null;
  /** Days left of the configured CA and client certificate (files as on disk now); null without TLS files. */
  tls: TlsExpiry | null;
}

/** Options for a direct (non-outbox) publish. */
export interface PublishOptions {
  qos: 0 | 1;
  retain?: boolean;
  correlationData?: Buffer;
}

/** The MQTT client side of the agent. */
export class MqttLink {
  private client: MqttClient | null = null;
  private broker: EmbeddedBroker | null = null;
  private sender: OutboxSender | null = null;
  private policy: ReconnectPolicy | null = null;
  private topicSet: Topics | null = null;
  private protocolVersion: 4 | 5 = 5;
  private connects = 0;
  private lastError: string | null = null;
  private url: string | null = null;
  private session = 0;
  private readonly connectListeners = new Set<() => void>();
  // Topics besides commands and desired config (Home Assistant's birth), subscribed at every connect.
  private readonly extraTopics = new Map<string, (payload: Buffer) => void>();
  // Kept across stop/start: a reply to a command that restarted the link goes out on the new one.
  private readonly pendingReplies: PendingReply[] = [];

  constructor(private readonly deps: MqttLinkDeps) {}

  /** The topics of this device (valid after start). */
  get topics(): Topics {
    const config = this.deps.config();
    return this.topicSet ?? buildTopics(config.mqtt.topicPrefix, config.device.id);
  }

  /** Starts the embedded broker if configured, and begins connecting (never waits for the broker). */
  async start(): Promise<void> {
    const config = this.deps.config();
    const clock = this.deps.clock ?? systemClock;
    this.topicSet = buildTopics(config.mqtt.topicPrefix, config.device.id);
    try {
      // Loaded here, not with the agent: the pipelines start meanwhile (README "Start-up").
      const { default: mqtt } = await import('mqtt');
      let url = config.mqtt.url;
      let mqttConfig = config.mqtt;
      let password = this.deps.password();
      this.protocolVersion = this.deps.protocolVersion ?? 5;
      this.connects = 0; // per run: the v5 → 3.1.1 fallback applies until the first connect of this run
      if (url === 'embedded') {
        // Every client logs in, the agent too, with the login it made at its first start (brokerUsers.ts).
        const users = loadBrokerUsers(config.dataDir, process.env, this.deps.log);
        const auth = { users, root: this.topicSet.root, agentClientId: config.device.id };
        // aedes is loaded only here: an agent on a central broker never needs it (issue 20, memory).
        const { EmbeddedBroker } = await import('./embeddedBroker.js');
        this.broker = new EmbeddedBroker({ log: this.deps.log, port: this.deps.embeddedPort, auth });
        await this.broker.start();
        url = this.broker.url();
        mqttConfig = { ...config.mqtt, username: users.agent.username };
        password = users.agent.password;
        this.protocolVersion = 4; // aedes speaks 3.1.1 only; skip the refused v5 attempt
      }
      this.url = url;
      this.policy = new ReconnectPolicy(this.deps.reconnect);
      this.session = this.deps.nextSession?.() ?? this.session + 1;
      const plan = connectPlan({
        mqtt: mqttConfig,
        url,
        clientId: config.device.id,
        password,
        protocolVersion: this.protocolVersion,
        willTopic: this.topicSet.status,
        will: this.statusMessage('offline'),
        reconnectPeriodMs: this.deps.reconnect?.initialMs ?? 1000,
      });
      this.deps.log.info({ url: safeUrl(url), clientId: config.device.id }, 'mqtt connecting');
      const client = mqtt.connect(plan.url, { ...plan.options, manualConnect: true });
      limitIncomingPackets(client, (packet) =>
        this.deps.log.warn(
          { topic: packet.topic?.slice(0, 200), bytes: packet.bytes, action: packet.action },
          'mqtt packet over the size limit',
        ),
      );
      client.connect();
      this.client = client;
      this.wire(client, clock);
      this.sender = new OutboxSender({ outbox: this.deps.outbox, log: this.deps.log, channel: this.channel(client) });
      this.sender.start();
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** Publishes offline (when connected), disconnects and stops the embedded broker. */
  async stop(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.sender?.stop();
    this.sender = null;
    if (client) {
      if (client.connected && this.topicSet) {
        await withTimeout(
          client.publishAsync(this.topicSet.status, JSON.stringify(this.statusMessage('offline')), {
            qos: 1,
            retain: true,
          }),
          2000,
        ).catch((error: Error) => this.deps.log.warn({ err: error }, 'offline status not sent'));
      }
      const ended = await withTimeout(client.endAsync(false), 2000).then(
        () => true,
        () => false,
      );
      if (!ended) await client.endAsync(true).catch(() => undefined);
    }
    await this.broker?.stop();
    this.broker = null;
  }

  /** Calls `listener` after every successful connect (status and subscription already sent). */
  onConnect(listener: () => void): () => void {
    this.connectListeners.add(listener);
    return () => this.connectListeners.delete(listener);
  }

  /** Subscribes to one more topic, now if connected and again at every connect; returns the unsubscribe. */
  subscribe(topic: string, handler: (payload: Buffer) => void): () => void {
    this.extraTopics.set(topic, handler);
    if (this.client?.connected) this.client.subscribe(topic, { qos: 1 });
    return () => {
      this.extraTopics.delete(topic);
      if (this.client?.connected) this.client.unsubscribe(topic);
    };
  }

  /** Whether a broker connection is up. */
  isConnected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Wakes the outbox sender (after an enqueue it already wakes by itself). */
  flushOutbox(): void {
    this.sender?.kick();
  }

  /** Connected, and a QoS 1 publish (the retained online status) was acknowledged: a round trip. */
  async roundTrip(timeoutMs = 5000): Promise<string | null> {
    const client = this.client;
    if (!client?.connected || !this.topicSet) {
      return `mqtt not connected to ${this.url ? safeUrl(this.url) : 'a broker'}${this.lastError ? ` (${this.lastError})` : ''}`;
    }
    try {
      await withTimeout(
        client.publishAsync(this.topicSet.status, JSON.stringify(this.statusMessage('online')), {
          qos: 1,
          retain: true,
        }),
        timeoutMs,
      );
      return null;
    } catch (error) {
      return `mqtt round trip failed: ${(error as Error).message}`;
    }
  }

  /** The session number of the current (or last) connect attempt. */
  get sessionNumber(): number {
    return this.session;
  }

  /**
   * Publishes directly (not durable): health, config, replies. A Buffer goes as is, anything else
   * as JSON. Resolves false when not connected.
   */
  async publish<K extends TopicKind>(
    topic: Topic<K>,
    payload: TopicPayloads[K],
    options: PublishOptions,
  ): Promise<boolean> {
    return this.send(topic, Buffer.isBuffer(payload) ? payload : JSON.stringify(payload), options);
  }

  /** Empties a retained topic (an empty retained payload is MQTT's delete); false when not connected. */
  async clearRetained(topic: string): Promise<boolean> {
    return this.send(topic, '', { qos: 1, retain: true });
  }

  private async send(topic: string, text: string | Buffer, options: PublishOptions): Promise<boolean> {
    const client = this.client;
    if (!client?.connected) return false;
    const properties =
      options.correlationData && this.protocolVersion === 5 ? { correlationData: options.correlationData } : undefined;
    await client.publishAsync(topic, text, { qos: options.qos, retain: options.retain ?? false, properties });
    return true;
  }

  /** Connection facts for /api/status. */
  status(): LinkStatus {
    return {
      connected: this.isConnected(),
      url: this.url ? safeUrl(this.url) : null,
      protocolVersion: this.protocolVersion,
      connects: this.connects,
      failures: this.policy?.failures ?? 0,
      lastError: this.lastError,
      tls: this.deps.config().mqtt.url === 'embedded' ? null : tlsExpiry(this.deps.config().mqtt),
    };
  }

  private statusMessage(state: 'online' | 'offline'): StatusMessage {
    const ts = new Date((this.deps.clock ?? systemClock).now()).toISOString();
    return { state, version: this.deps.version, startedAt: this.deps.startedAt, session: this.session, ts };
  }

  private channel(client: MqttClient) {
    return {
      isConnected: () => client.connected,
      publish: (topic: string, payload: string, done: (error?: Error & { code?: number }) => void) => {
        client.publish(topic, payload, { qos: 1 }, (error) => done(error ?? undefined));
      },
    };
  }

  private wire(client: MqttClient, clock: Clock): void {
    const log = this.deps.log;
    // Runs before MQTT.js's own 'close' handler arms its reconnect timer with this period.
    client.prependListener('close', () => {
      if (this.client !== client || !this.policy) return;
      const delay = this.policy.closed(clock.now());
      client.options.reconnectPeriod = delay;
      // MQTT.js builds each CONNECT from client.options: the next attempt is a new session.
      this.session = this.deps.nextSession?.() ?? this.session + 1;
      if (client.options.will) client.options.will.payload = Buffer.from(JSON.stringify(this.statusMessage('offline')));
      this.reloadTls(client);
      log.info({ delayMs: delay, failures: this.policy.failures }, 'mqtt disconnected, reconnecting later');
    });
    client.on('error', (error: Error & { code?: number | string }) => {
      this.lastError = error.message;
      // 1 (3.1.1) / 132 (5): the broker does not speak MQTT 5; fall back to 3.1.1 for this run.
      if (this.protocolVersion === 5 && this.connects === 0 && (error.code === 1 || error.code === 132)) {
        this.protocolVersion = 4;
        client.options.protocolVersion = 4;
        log.info('broker refused mqtt 5, using 3.1.1');
        return;
      }
      log.warn({ err: error }, 'mqtt error');
    });
    client.on('connect', (connack) => {
      if (this.client !== client) return;
      this.connects += 1;
      this.lastError = null;
      this.policy?.connected(clock.now());
      log.info({ protocolVersion: this.protocolVersion, sessionPresent: connack.sessionPresent }, 'mqtt connected');
      this.warnExpiry();
      const topics = this.topics;
      client.publish(topics.status, JSON.stringify(this.statusMessage('online')), { qos: 1, retain: true });
      const filters = [
        topics.commandFilter,
        ...(this.deps.onDesired ? [topics.configDesired] : []),
        ...(this.deps.onReleaseDesired ? [topics.releaseDesired] : []),
        ...this.extraTopics.keys(),
      ];
      client.subscribe(filters, { qos: 1 }, (error, granted) => {
        if (error || granted?.some((g) => g.qos >= 128)) {
          log.error({ err: error ?? undefined, filters }, 'broker refused a subscription');
          return;
        }
        // The moment commands can arrive: a command sent before this on a clean session is lost.
        log.info({ filters }, 'mqtt commands subscribed');
      });
      this.flushPendingReplies();
      for (const listener of this.connectListeners) {
        try {
          listener();
        } catch (error) {
          log.error({ err: error }, 'connect listener failed');
        }
      }
      this.sender?.kick();
    });
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
  }

  /**
   * Certificates are replaced on disk before they expire: the next connect attempt uses the files
   * as they are now (MQTT.js builds each TLS socket from client.options). A replacement caught
   * half-way (a certificate that does not match the key yet, a file being written) keeps the files
   * in use and is tried again at the next attempt.
   */
  private reloadTls(client: MqttClient): void {
    const { mqtt } = this.deps.config();
    if (client.options.protocol !== 'mqtts' && client.options.protocol !== 'wss') return;
    if (mqtt.ca === null && mqtt.cert === null && mqtt.key === null) return;
    try {
      const material = readTlsMaterial(mqtt);
      const changed = (['ca', 'cert', 'key'] as const).filter((k) => !sameBuffer(material[k], client.options[k]));
      if (changed.length === 0) return;
      for (const k of changed) client.options[k] = material[k];
      this.deps.log.info(
        { files: changed.map((k) => `mqtt.${k}`) },
        'tls files changed on disk; the next connect uses them',
      );
    } catch (error) {
      this.deps.log.warn({ err: error }, 'tls files not reloaded; keeping the ones in use');
    }
  }

  /** A certificate near its end (or past it) is worth a log line at every connect, besides R/health. */
  private warnExpiry(): void {
    const tls = this.status().tls;
    for (const [which, report] of Object.entries(tls ?? {})) {
      if ('error' in report)
        this.deps.log.warn({ file: report.file, err: report.error }, `mqtt tls ${which} unreadable`);
      else if (report.status !== 'ok')
        this.deps.log.warn(
          { file: report.file, daysLeft: report.daysLeft, notAfter: report.notAfter },
          `mqtt tls ${which} expires soon`,
        );
    }
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    if (topic === this.topics.configDesired) {
      this.deps.onDesired?.(payload);
      return;
    }
    if (topic === this.topics.releaseDesired) {
      this.deps.onReleaseDesired?.(payload);
      return;
    }
    const extra = this.extraTopics.get(topic);
    if (extra) return extra(payload);
    const name = commandName(this.topics, topic);
    if (name === null) return;
    const props = packet.properties ?? {};
    this.deps.router
      .handle({ name, topic, payload, responseTopic: props.responseTopic, correlationData: props.correlationData })
      .then((reply) => (reply ? this.sendReply(reply) : undefined))
      .catch((error: Error) => this.deps.log.error({ err: error, command: name }, 'command reply failed'));
  }

  private async sendReply(reply: OutgoingReply): Promise<void> {
    if (!isSafeReplyTopic(this.topics, reply.topic)) {
      this.deps.log.warn({ topic: reply.topic }, 'reply topic refused');
      return;
    }
    let sent = false;
    try {
      sent = await this.publish(reply.topic, reply.body, { qos: 1, correlationData: reply.correlationData });
    } catch (error) {
      this.deps.log.warn({ err: error }, 'reply not sent; keeping it for the next connection');
    }
    if (sent) return;
    // The command may have restarted the link (a new broker URL): the reply goes out on the new one.
    if (this.pendingReplies.length >= MAX_PENDING_REPLIES) this.pendingReplies.shift();
    this.pendingReplies.push({ reply, until: (this.deps.clock ?? systemClock).now() + PENDING_REPLY_MS });
  }

  private flushPendingReplies(): void {
    const now = (this.deps.clock ?? systemClock).now();
    const due = this.pendingReplies.splice(0).filter((p) => p.until > now);
    for (const { reply } of due) {
      void this.sendReply(reply).catch((error: Error) => this.deps.log.error({ err: error }, 'command reply failed'));
    }
  }
}

function sameBuffer(a: Buffer | undefined, b: unknown): boolean {
  if (a === undefined || b === undefined) return a === b;
  return Buffer.isBuffer(b) && a.equals(b);
}

/**
 * Puts a PacketLimitStream between MQTT.js and every connection it opens (each reconnect builds a
 * new stream). streamBuilder is private in MQTT.js's types but a plain property: the one way to
 * see the bytes before its parser buffers a whole packet, for 3.1.1 and MQTT 5 alike.
 */
function limitIncomingPackets(client: MqttClient, onOversized: (packet: OversizedPacket) => void): void {
  const holder = client as unknown as { streamBuilder: (c: MqttClient) => Duplex };
  const build = holder.streamBuilder;
  holder.streamBuilder = (c) => new PacketLimitStream(build(c), { mode: 'drop', onOversized });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

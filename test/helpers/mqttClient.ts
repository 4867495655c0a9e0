/** A test-side MQTT.js client: collects messages, waits for them, and sends commands in both reply forms. */
import { randomUUID } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { waitFor } from './waitFor.js';

/** One received message. */
export interface Received {
  topic: string;
  text: string;
  json: unknown;
  retain: boolean;
  correlationData?: Buffer;
}

/** A connected client with an inbox. */
export class TestClient {
  readonly inbox: Received[] = [];

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      let json: unknown;
      try {
        json = JSON.parse(payload.toString());
      } catch {
        json = undefined;
      }
      this.inbox.push({
        topic,
        text: payload.toString(),
        json,
        retain: packet.retain,
        correlationData: packet.properties?.correlationData,
      });
    });
  }

  /** Connects (MQTT 5 unless told otherwise) with no automatic reconnect. */
  static async connect(url: string, options: IClientOptions = {}): Promise<TestClient> {
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...options,
    });
    return new TestClient(client);
  }

  /** Subscribes at QoS 1. */
  async subscribe(filter: string): Promise<void> {
    await this.client.subscribeAsync(filter, { qos: 1 });
  }

  /** Waits until a message matches, returning it. */
  async waitFor(match: (m: Received) => boolean, timeoutMs = 10_000): Promise<Received> {
    return waitFor(
      () => `a matching message; inbox: ${this.inbox.map((m) => `${m.topic} ${m.text.slice(0, 120)}`).join('\n')}`,
      () => this.inbox.find(match),
      timeoutMs,
      20,
    );
  }

  /** Messages on one topic. */
  on(topic: string): Received[] {
    return this.inbox.filter((m) => m.topic === topic);
  }

  /**
   * Sends a command and waits for the reply. `v5`: Response Topic + Correlation Data;
   * `v311`: `replyTo` and `id` in the body. The reply topic is `<replyRoot>/<uuid>`.
   */
  async command(
    topic: string,
    body: Record<string, unknown>,
    form: 'v5' | 'v311',
    replyRoot: string,
    timeoutMs = 10_000,
  ): Promise<Received> {
    const replyTopic = `${replyRoot}/${randomUUID()}`;
    await this.subscribe(replyTopic);
    const id = randomUUID();
    if (form === 'v5') {
      await this.client.publishAsync(topic, JSON.stringify(body), {
        qos: 1,
        properties: { responseTopic: replyTopic, correlationData: Buffer.from(id) },
      });
    } else {
      await this.client.publishAsync(topic, JSON.stringify({ ...body, replyTo: replyTopic, id }), { qos: 1 });
    }
    return this.waitFor((m) => m.topic === replyTopic, timeoutMs);
  }

  /** Publishes raw bytes. */
  async raw(topic: string, payload: string | Buffer): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1 });
  }

  /** Disconnects. */
  async end(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** Sleeps. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

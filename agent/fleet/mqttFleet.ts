/**
 * The roll-out's broker link: one MQTT client that reads every board's retained `R/release` (and
 * `R/status`, to find a group's boards) and publishes desired releases. Nothing but the broker:
 * no SSH, no board address.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { FleetLink, ReleaseReportLike } from './rollout.js';

/** A board's retained `R/status`: `online`/`offline` and its `ts`. */
export interface BoardLink {
  state: string | null;
  ts: string | null;
}

/** How to reach the broker. */
export interface FleetBrokerOptions {
  url: string;
  topicPrefix: string;
  username?: string;
  password?: string;
}

/** A connected fleet link. */
export class MqttFleet implements FleetLink {
  private readonly reports = new Map<string, ReleaseReportLike>();
  private readonly online = new Set<string>();
  private readonly statuses = new Map<string, BoardLink>();
  private readonly seen = new Set<string>();
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly client: MqttClient,
    private readonly prefix: string,
  ) {
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  /** Connects and subscribes to every board's R/release and R/status. */
  static async connect(options: FleetBrokerOptions): Promise<MqttFleet> {
    const client = await mqtt.connectAsync(options.url, {
      username: options.username,
      password: options.password,
      clientId: `edge-fleet-${process.pid}-${Date.now().toString(36)}`,
      clean: true,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
    });
    const fleet = new MqttFleet(client, options.topicPrefix);
    await client.subscribeAsync([`${options.topicPrefix}/+/release`, `${options.topicPrefix}/+/status`], { qos: 1 });
    return fleet;
  }

  private onMessage(topic: string, payload: Buffer): void {
    const parts = topic.split('/');
    const [device, kind] = [parts.at(-2)!, parts.at(-1)!];
    if (topic !== `${this.prefix}/${device}/${kind}`) return;
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      return;
    }
    if (typeof json !== 'object' || json === null) return;
    this.seen.add(device);
    if (kind === 'release') this.reports.set(device, json as ReleaseReportLike);
    if (kind === 'status') {
      const { state, ts } = json as { state?: unknown; ts?: unknown };
      if (state === 'online') this.online.add(device);
      else this.online.delete(device);
      this.statuses.set(device, {
        state: typeof state === 'string' ? state : null,
        ts: typeof ts === 'string' ? ts : null,
      });
    }
    for (const wake of this.waiters.splice(0)) wake();
  }

  report(device: string): ReleaseReportLike | null {
    return this.reports.get(device) ?? null;
  }

  /** A board's retained `R/status` as last read: its link state and when it was published. */
  link(device: string): BoardLink | null {
    return this.statuses.get(device) ?? null;
  }

  /** Waits until every board named has shown a retained message, or `ms` passed (one never seen stays unknown). */
  async seenAll(devices: string[], ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (devices.some((d) => !this.seen.has(d)) && Date.now() < deadline) await this.changed(deadline - Date.now());
  }

  async publishDesired(device: string, doc: Record<string, unknown>): Promise<void> {
    await this.client.publishAsync(`${this.prefix}/${device}/release/desired`, JSON.stringify(doc), {
      qos: 1,
      retain: true,
    });
  }

  changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      }, ms);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push(done);
    });
  }

  /**
   * The boards whose id starts with `group`, from their retained R/status: collected until no new
   * board has shown up for `settleMs` (retained messages arrive in one burst after subscribing).
   */
  async discover(group: string, settleMs = 1500): Promise<string[]> {
    let count = -1;
    while (count !== this.seen.size) {
      count = this.seen.size;
      await new Promise((resolve) => setTimeout(resolve, settleMs));
    }
    return [...this.seen].filter((id) => id.startsWith(group)).sort();
  }

  async end(): Promise<void> {
    await this.client.endAsync();
  }
}

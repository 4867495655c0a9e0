/**
 * Drains the outbox over a QoS 1 channel, oldest first, with a small window of messages in
 * flight. A row leaves the store only on PUBACK, so a crash or outage re-sends, never loses.
 */
import type { Logger } from '../util/logger.js';
import type { Outbox, OutboxRow } from './outbox.js';

/** The part of the MQTT link the sender uses. */
export interface QoS1Channel {
  isConnected(): boolean;
  /** Publishes at QoS 1; `done` runs on PUBACK (no error) or when the broker refused it. */
  publish(topic: string, payload: string, done: (error?: Error & { code?: number }) => void): void;
}

/** What the sender needs. */
export interface OutboxSenderDeps {
  outbox: Outbox;
  channel: QoS1Channel;
  log: Logger;
  /** Messages in flight at once; MQTT.js keeps them in memory until PUBACK. */
  window?: number;
  retryMs?: number;
}

/** Sends outbox rows in order and deletes each on PUBACK. */
export class OutboxSender {
  private readonly inFlight = new Set<number>();
  private lastSeq = 0;
  private running = false;
  private unsubscribe: (() => void) | null = null;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: OutboxSenderDeps) {}

  /** Starts sending whenever the channel is connected and the outbox is not empty. */
  start(): void {
    this.running = true;
    this.unsubscribe = this.deps.outbox.onEnqueue(() => this.kick());
    this.kick();
  }

  /** Stops sending; rows not yet acknowledged stay in the store for the next start. */
  stop(): void {
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.inFlight.clear();
  }

  /** Messages handed to the client and not yet acknowledged. */
  inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Sends what the window allows; called on enqueue, on connect and after every PUBACK. */
  kick(): void {
    const window = this.deps.window ?? 16;
    while (this.running && this.deps.channel.isConnected() && this.inFlight.size < window) {
      // With nothing in flight every stored row is unsent (acked rows are deleted): start over,
      // which also re-sends a row whose earlier attempt failed.
      if (this.inFlight.size === 0) this.lastSeq = 0;
      const rows = this.deps.outbox.peek(this.lastSeq, window - this.inFlight.size);
      if (rows.length === 0) return;
      for (const row of rows) this.send(row);
    }
  }

  private send(row: OutboxRow): void {
    this.inFlight.add(row.seq);
    this.lastSeq = row.seq;
    this.deps.channel.publish(row.topic, row.payload, (error) => this.settle(row, error));
  }

  private settle(row: OutboxRow, error?: Error & { code?: number }): void {
    if (!this.running || !this.inFlight.delete(row.seq)) return;
    if (!error) {
      this.deps.outbox.ack(row.seq);
      this.kick();
      return;
    }
    if (typeof error.code === 'number' && error.code >= 0x80) {
      // An MQTT 5 PUBACK reason code (e.g. 0x87 not authorised): retrying would block the queue forever.
      this.deps.log.error({ topic: row.topic, id: row.id, err: error }, 'broker refused outbox message, dropped');
      this.deps.outbox.reject(row.seq);
      this.kick();
      return;
    }
    this.deps.log.warn({ topic: row.topic, id: row.id, err: error }, 'outbox send failed, will retry');
    // Retry later rather than now: an error that repeats at once must not spin the event loop.
    if (!this.retryTimer) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.kick();
      }, this.deps.retryMs ?? 1000);
    }
  }
}

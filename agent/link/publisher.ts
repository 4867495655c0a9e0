/**
 * What the agent tells the back end: every bus event and analysis result through the durable
 * outbox, health every `healthIntervalSeconds` (QoS 0, retained), the redacted config on connect
 * and on change (retained).
 */
import type { AgentConfig } from '../config/types.js';
import type { AgentEvent } from '../contract/events.js';
import { archiveEventId } from '../contract/ids.js';
import type {
  AnalysisBudgetMessage,
  AnalysisResult,
  ReleaseMessage,
  ReportedConfigMessage,
  TopicPayloads,
} from '../contract/messages.js';
import type { Topic, TopicKind, Topics } from '../contract/topics.js';
import type { Outbox } from '../outbox/outbox.js';
import type { EventBus } from '../util/bus.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { PublishOptions } from './mqttLink.js';

/** The part of MqttLink the publisher uses. */
export interface PublishLink {
  readonly topics: Topics;
  publish<K extends TopicKind>(topic: Topic<K>, payload: TopicPayloads[K], options: PublishOptions): Promise<boolean>;
  onConnect(listener: () => void): () => void;
}

/** What the publisher needs; agent.ts builds it. */
export interface LinkPublisherDeps {
  link: PublishLink;
  outbox: Outbox;
  bus: EventBus;
  /** The health collector (HealthCollector). */
  health: { snapshot(): Promise<object> };
  config: () => AgentConfig;
  /** The config module's redactConfig. */
  redact: (config: AgentConfig) => AgentConfig;
  log: Logger;
  clock?: Clock;
  /**
   * The announced-archives ledger (AnnouncedArchives): archive events are stored once per
   * archive, in one transaction with its ledger row, under the archive's stable id.
   */
  announced?: {
    once(archive: { file: string; start: string }, id: string, announce: () => void): boolean;
  };
  /**
   * The motion score of a camera's interval (MotionMeters + motionScore), or null when not
   * measured: archive events carry it as `motion`. Synchronous and local, so an archive event
   * never waits for anything analysis does.
   */
  motionScore?: (camera: string, startMs: number, endMs: number) => number | null;
}

/** The events that announce an archive; each archive gets one, under its stable id. */
function isArchiveEvent(event: AgentEvent): event is AgentEvent<'archive.finished'> | AgentEvent<'archive.recovered'> {
  return event.type === 'archive.finished' || event.type === 'archive.recovered';
}

/** Publishes events, analysis results, health and config. */
export class LinkPublisher {
  private readonly unsubscribe: Array<() => void> = [];
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private reported: ReportedConfigMessage | null = null;
  private budget: AnalysisBudgetMessage | null = null;
  private release: ReleaseMessage | null = null;

  constructor(private readonly deps: LinkPublisherDeps) {}

  /** Subscribes to the bus and starts the health timer; start it before the modules that emit events. */
  start(): void {
    this.running = true;
    this.unsubscribe.push(
      this.deps.bus.onAny((event) => {
        try {
          this.storeEvent(event);
        } catch (error) {
          this.deps.log.error({ err: error, type: event.type }, 'event not stored in outbox');
        }
      }),
      this.deps.bus.on('config.changed', () => void this.publishConfig()),
      this.deps.link.onConnect(() => {
        void this.publishConfig();
        void this.publishHealth();
        // A report made while the link was down (a reverted broker change) goes out now.
        if (this.reported) void this.publishReported(this.reported);
        if (this.budget) void this.publishBudget(this.budget);
        if (this.release) void this.publishRelease(this.release);
      }),
    );
    this.schedule();
  }

  /** Stores one event for R/events; an archive's only once (a catch-up may find it announced). */
  private storeEvent(event: AgentEvent): void {
    const { outbox, announced, link } = this.deps;
    if (!isArchiveEvent(event) || !announced) {
      outbox.enqueue(link.topics.events, event);
      return;
    }
    const id = archiveEventId(this.deps.config().device.id, event.file);
    const startMs = Date.parse(event.start);
    const motion = this.deps.motionScore?.(event.camera, startMs, startMs + event.seconds * 1000) ?? null;
    const message = { ...event, ...(motion !== null ? { motion } : {}), id };
    if (!announced.once(event, id, () => outbox.enqueue(link.topics.events, message))) {
      this.deps.log.debug({ file: event.file, type: event.type }, 'archive already announced; not sent again');
    }
  }

  /** Stops the timer and the subscriptions. */
  stop(): void {
    this.running = false;
    for (const off of this.unsubscribe.splice(0)) off();
    if (this.timer) (this.deps.clock ?? systemClock).clearTimeout(this.timer);
    this.timer = null;
  }

  /** Stores one analysis result in the outbox for R/analysis (throws if the store fails). */
  publishAnalysis(result: AnalysisResult): void {
    this.deps.outbox.enqueue(this.deps.link.topics.analysis, { ...result });
  }

  /** Publishes R/analysis/budget (retained, QoS 1) now if connected, and again on every connect. */
  async publishBudget(budget: AnalysisBudgetMessage): Promise<void> {
    this.budget = budget;
    await this.retained(this.deps.link.topics.analysisBudget, budget, 'analysis budget');
  }

  /** Publishes R/release (retained, QoS 1) now if connected, and again on every connect. */
  async publishRelease(release: ReleaseMessage): Promise<void> {
    this.release = release;
    await this.retained(this.deps.link.topics.release, release, 'release report');
  }

  /** Publishes one health report now (skipped while disconnected: a stale report is useless). */
  async publishHealth(): Promise<void> {
    try {
      const snapshot = await this.deps.health.snapshot();
      const ts = new Date((this.deps.clock ?? systemClock).now()).toISOString();
      const message = { ...snapshot, outbox: this.deps.outbox.stats(), ts };
      await this.deps.link.publish(this.deps.link.topics.health, message, { qos: 0, retain: true });
    } catch (error) {
      this.deps.log.warn({ err: error }, 'health not published');
    }
  }

  /** Publishes the redacted effective config, retained. */
  async publishConfig(): Promise<void> {
    try {
      // A plain copy: the contract types R/config as a record, without knowing AgentConfig.
      const message = { ...this.deps.redact(this.deps.config()) };
      await this.deps.link.publish(this.deps.link.topics.config, message, { qos: 1, retain: true });
    } catch (error) {
      this.deps.log.warn({ err: error }, 'config not published');
    }
  }

  /** Publishes R/config/reported (retained, QoS 1) now if connected, and again on every connect. */
  async publishReported(report: ReportedConfigMessage): Promise<void> {
    this.reported = report;
    await this.retained(this.deps.link.topics.configReported, report, 'config report');
  }

  /** One retained QoS 1 message; a failure is logged, never thrown (the next connect re-sends). */
  private async retained<K extends TopicKind>(topic: Topic<K>, message: TopicPayloads[K], what: string): Promise<void> {
    try {
      await this.deps.link.publish(topic, message, { qos: 1, retain: true });
    } catch (error) {
      this.deps.log.warn({ err: error }, `${what} not published`);
    }
  }

  /** Restarts the health timer with the current interval: a changed interval applies in place. */
  reschedule(): void {
    if (!this.running) return;
    if (this.timer) (this.deps.clock ?? systemClock).clearTimeout(this.timer);
    this.schedule();
  }

  private schedule(): void {
    if (!this.running) return;
    const clock = this.deps.clock ?? systemClock;
    // Read each time: set-config may change the interval without restarting the link.
    const seconds = Math.max(1, this.deps.config().mqtt.healthIntervalSeconds);
    this.timer = clock.setTimeout(() => {
      void this.publishHealth().finally(() => this.schedule());
    }, seconds * 1000);
  }
}

/**
 * Home Assistant MQTT discovery (issue 19), when `mqtt.homeAssistant.enabled`:
 *
 *   1. at every connect, on every config change and whenever Home Assistant announces itself
 *      (`online` on `homeassistant/status`), the device payload (homeAssistantConfig.ts) is
 *      published, retained, on `homeassistant/device/<device id>/config`;
 *   2. components published before but no longer there (a removed camera) are first sent as
 *      `{platform}` alone, which makes HA delete them, then the payload without them; their
 *      retained snapshots are cleared;
 *   3. every `mqtt.homeAssistant.snapshotSeconds` each running camera's JPEG goes, retained, to
 *      `R/snapshot/<camera>`, the topic of its HA camera entity;
 *   4. switched off: an empty retained payload removes the device and every entity, and the
 *      snapshots are cleared. What was published is remembered in the store, so a removal
 *      (or a camera dropped from the file while the agent was down) is done after a restart too.
 */
import type { AgentConfig } from '../config/types.js';
import type { TopicPayloads } from '../contract/messages.js';
import { homeAssistantTopics, type Topic, type TopicKind, type Topics } from '../contract/topics.js';
import type { PipelineControl } from '../contract/services.js';
import type { EventBus } from '../util/bus.js';
import type { Logger } from '../util/logger.js';
import type { PublishOptions } from './mqttLink.js';
import { discoveryPayload, platformsOf, withRemovals } from './homeAssistantConfig.js';

/** What was last published: component id → platform, and the retained snapshot topics. */
export interface PublishedDiscovery {
  topic: string;
  components: Record<string, string>;
  snapshotTopics: string[];
}

/** The part of MqttLink discovery uses. */
export interface DiscoveryLink {
  readonly topics: Topics;
  publish<K extends TopicKind>(topic: Topic<K>, payload: TopicPayloads[K], options: PublishOptions): Promise<boolean>;
  clearRetained(topic: string): Promise<boolean>;
  onConnect(listener: () => void): () => void;
  subscribe(topic: string, handler: (payload: Buffer) => void): () => void;
}

/** What discovery needs; agent.ts builds it. */
export interface HomeAssistantDeps {
  link: DiscoveryLink;
  pipeline: PipelineControl;
  config: () => AgentConfig;
  bus: EventBus;
  version: string;
  log: Logger;
  /** The store's memory of what was published (kv `homeassistant.published`). */
  memory: { load(): PublishedDiscovery | null; save(state: PublishedDiscovery | null): void };
  /** Most milliseconds to wait, at random, after HA's birth before answering (HA asks for some spread). */
  birthJitterMs?: number;
}

const RETAINED = { qos: 1, retain: true } as const;

/** The Home Assistant discovery module: construct with deps, `start()`, `stop()`. */
export class HomeAssistantDiscovery {
  private readonly offs: Array<() => void> = [];
  private unsubscribeBirth: (() => void) | null = null;
  private snapshotTimer: NodeJS.Timeout | null = null;
  private snapshotEvery = 0;
  private snapshotRun: Promise<void> = Promise.resolve();
  private queue: Promise<void> = Promise.resolve();
  private running = false;

  constructor(private readonly deps: HomeAssistantDeps) {}

  /** Follows the link's connects and the config's changes; publishes or removes at once if connected. */
  start(): void {
    this.running = true;
    const { link, bus } = this.deps;
    this.offs.push(
      link.onConnect(() => this.sync('connect')),
      bus.on('config.changed', () => this.sync('config changed')),
      bus.on('config.reverted', () => this.sync('config reverted')),
    );
    this.sync('start');
  }

  /** Stops timers and subscriptions; the retained discovery stays (R/status tells HA we are offline). */
  async stop(): Promise<void> {
    this.running = false;
    for (const off of this.offs.splice(0)) off();
    this.unsubscribeBirth?.();
    this.unsubscribeBirth = null;
    this.setSnapshotTimer(0);
    await this.queue;
    await this.snapshotRun;
  }

  private settings(): { enabled: boolean; snapshotSeconds: number } {
    return this.deps.config().mqtt.homeAssistant ?? { enabled: false, snapshotSeconds: 10 };
  }

  /** Brings the broker's retained state in line with the config; runs one at a time. */
  private sync(why: string): void {
    this.queue = this.queue
      .then(() => (this.running ? this.syncNow() : undefined))
      .catch((error: unknown) => this.deps.log.warn({ err: error, why }, 'home assistant discovery not published'));
  }

  private async syncNow(): Promise<void> {
    const { enabled, snapshotSeconds } = this.settings();
    if (!enabled) {
      this.unsubscribeBirth?.();
      this.unsubscribeBirth = null;
      this.setSnapshotTimer(0);
      await this.snapshotRun; // a snapshot sent after the clear would be retained again
      await this.remove();
      return;
    }
    this.unsubscribeBirth ??= this.deps.link.subscribe(
      homeAssistantTopics(this.deps.config().device.id).status,
      (payload) => {
        if (payload.toString().trim() !== 'online') return;
        const delay = Math.random() * (this.deps.birthJitterMs ?? 1000);
        setTimeout(() => this.sync('home assistant online'), delay).unref();
      },
    );
    this.setSnapshotTimer(snapshotSeconds);
    await this.publish();
  }

  /** Steps 1 and 2. */
  private async publish(): Promise<void> {
    const { link, memory, config, version } = this.deps;
    const { device, cameras } = config();
    const topic = homeAssistantTopics(device.id).discovery;
    const payload = discoveryPayload({
      deviceId: device.id,
      version,
      topics: link.topics,
      cameras: cameras.map((c) => c.id),
    });
    const snapshotTopics: string[] = cameras.map((c) => link.topics.snapshot(c.id));
    const before = memory.load();
    if (before && before.topic !== topic) await this.clear(before);
    const known = before?.topic === topic ? before : null;
    const gone = Object.fromEntries(
      Object.entries(known?.components ?? {}).filter(([id]) => !(id in payload.components)),
    );
    if (Object.keys(gone).length > 0) {
      if (!(await link.publish(topic, withRemovals(payload, gone), RETAINED))) return;
      for (const old of known!.snapshotTopics.filter((t) => !snapshotTopics.includes(t))) await link.clearRetained(old);
      this.deps.log.info({ removed: Object.keys(gone) }, 'home assistant entities removed');
    }
    if (!(await link.publish(topic, payload, RETAINED))) return; // not connected: done at the next connect
    memory.save({ topic, components: platformsOf(payload), snapshotTopics });
    this.deps.log.info(
      { topic, components: Object.keys(payload.components).length },
      'home assistant discovery published',
    );
  }

  /** Step 4. */
  private async remove(): Promise<void> {
    const before = this.deps.memory.load();
    if (!before) return;
    if (await this.clear(before)) {
      this.deps.memory.save(null);
      this.deps.log.info({ topic: before.topic }, 'home assistant discovery removed');
    }
  }

  /** Empties the retained discovery and snapshots; false when not connected. */
  private async clear(published: PublishedDiscovery): Promise<boolean> {
    if (!(await this.deps.link.clearRetained(published.topic))) return false;
    for (const topic of published.snapshotTopics) await this.deps.link.clearRetained(topic);
    return true;
  }

  /** Step 3: (re)arms the snapshot timer; 0 stops it. */
  private setSnapshotTimer(seconds: number): void {
    if (seconds === this.snapshotEvery && (seconds === 0 || this.snapshotTimer)) return;
    if (this.snapshotTimer) clearTimeout(this.snapshotTimer);
    this.snapshotTimer = null;
    this.snapshotEvery = seconds;
    if (seconds <= 0) return;
    const tick = () => {
      this.snapshotRun = this.publishSnapshots();
      void this.snapshotRun.finally(() => {
        if (this.snapshotEvery === seconds && this.snapshotTimer) this.snapshotTimer = setTimeout(tick, seconds * 1000);
      });
    };
    this.snapshotTimer = setTimeout(tick, 0);
  }

  private async publishSnapshots(): Promise<void> {
    const { pipeline, link, log } = this.deps;
    for (const camera of pipeline.stats()) {
      if (camera.state !== 'running') continue;
      try {
        const snapshot = await pipeline.snapshot(camera.camera);
        if (this.snapshotEvery === 0) return; // switched off meanwhile
        if (!(await link.publish(link.topics.snapshot(camera.camera), snapshot.jpeg, { qos: 0, retain: true }))) return;
      } catch (error) {
        log.debug({ camera: camera.camera, err: error }, 'home assistant snapshot skipped');
      }
    }
  }
}

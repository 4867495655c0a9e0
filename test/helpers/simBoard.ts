/**
 * A simulated board for fleet tests: a real MQTT client on the test's Mosquitto that publishes
 * retained R/status and R/release like the agent, takes R/release/desired like the agent (the
 * running version is a no-op), and runs the real board-side updater (deploy/lib/update/machine.mjs)
 * on a FakeUpdateBoard: files, downloads and the agent's unit faked, time virtual. R/release is
 * published at every state the updater records, with the wall-clock time.
 */
import { createHash } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { runUpdater, type UpdateOps } from '../../deploy/lib/update/machine.mjs';
import { FakeUpdateBoard, type AgentBehaviour } from './fakeUpdateOps.js';

export class SimulatedBoard {
  readonly fake = new FakeUpdateBoard();
  /** Desired documents received, and updates actually run. */
  desired = 0;
  updates = 0;
  private readonly handled = new Set<string>();
  private client: MqttClient | null = null;
  private hold: Promise<void> | null = null;
  private releaseHold: (() => void) | null = null;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly id: string,
    private readonly brokerUrl: string,
    private readonly prefix = 'edge',
  ) {}

  /** `version`'s agent on this board behaves so (crash: never comes up, so it is rolled back). */
  behave(version: string, behaviour: AgentBehaviour): this {
    this.fake.behaviour.set(version, behaviour);
    return this;
  }

  /** Desired releases wait until `release()` (to catch a roll-out in the middle of a stage). */
  holdUpdates(): this {
    this.hold = new Promise((resolve) => (this.releaseHold = resolve));
    return this;
  }

  release(): void {
    this.releaseHold?.();
  }

  private get root(): string {
    return `${this.prefix}/${this.id}`;
  }

  async start(): Promise<void> {
    const client = await mqtt.connectAsync(this.brokerUrl, { clientId: `sim-${this.id}`, reconnectPeriod: 0 });
    this.client = client;
    client.on('message', (_topic, payload) => {
      this.chain = this.chain.then(() => this.onDesired(payload)).catch(() => undefined);
    });
    await client.publishAsync(
      `${this.root}/status`,
      JSON.stringify({ state: 'online', version: this.running(), ts: new Date().toISOString() }),
      { qos: 1, retain: true },
    );
    await this.report();
    await client.subscribeAsync(`${this.root}/release/desired`, { qos: 1 });
  }

  async stop(): Promise<void> {
    this.release();
    await this.chain;
    await this.client?.endAsync(true);
  }

  running(): string {
    return (this.fake.links.current ?? '').replace('releases/', '');
  }

  private async report(): Promise<void> {
    const state = this.fake.state;
    const message = {
      running: this.running(),
      previous: this.fake.links.previous?.replace('releases/', '') ?? null,
      update: state ? { state: state.state, version: state.version, reason: state.reason } : null,
      ts: new Date().toISOString(),
    };
    await this.client?.publishAsync(`${this.root}/release`, JSON.stringify(message), { qos: 1, retain: true });
  }

  private async onDesired(payload: Buffer): Promise<void> {
    if (payload.length === 0) return;
    this.desired += 1;
    // As the agent: a document already handled (the same bytes again) changes nothing.
    const digest = createHash('sha256').update(payload).digest('hex');
    if (this.handled.has(digest)) return;
    this.handled.add(digest);
    const doc = JSON.parse(payload.toString()) as { manifest: { version: string }; sig: string; url: string };
    // As the agent: a document for the running version changes nothing.
    if (doc.manifest.version === this.running()) return;
    if (this.hold) await this.hold;
    this.updates += 1;
    const request = this.fake.ask(doc.manifest.version, { sig: doc.sig });
    Object.assign(request, { manifest: doc.manifest, url: doc.url });
    const ops: UpdateOps = this.fake.ops();
    const write = ops.writeState;
    ops.writeState = async (state) => {
      await write(state);
      await this.report();
    };
    await runUpdater(ops);
    await this.report();
  }
}

/**
 * The new release's own health gate (README "Updates", step 6). When the agent starts as the
 * release an update just switched to, it checks, until the updater's deadline, that every camera
 * that produced frames before the update produces frames again, that an HLS playlist listing a
 * segment was written since this start, and that its MQTT birth reached the broker (when the old
 * agent had a broker). It writes its verdict for the root updater, which then watches for
 * restarts and decides: done, or roll back.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { CameraStats } from '../contract/services.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { RootUpdateState } from './state.js';

/** A frame no older than this counts as "producing frames". */
const FRESH_FRAME_SECONDS = 5;

/** What the gate needs; agent.ts builds it. */
export interface UpdateGateDeps {
  version: string;
  readState: () => Promise<RootUpdateState | null>;
  stats: () => CameraStats[];
  hlsDir: (camera: string) => string;
  /** Null when a QoS 1 publish of the birth reached the broker; else why not. */
  roundTrip: () => Promise<string | null>;
  writeVerdict: (verdict: {
    attempt: string;
    version: string;
    pid: number;
    state: 'passed' | 'failed';
    reason: string | null;
    ts: string;
  }) => Promise<void>;
  /** When this agent started (ms): playlists older than that are the old release's. */
  startedAt: number;
  log: Logger;
  clock?: Clock;
  pollMs?: number;
}

/** Runs the gate once, if this start is the one an update is waiting for. */
export class UpdateGate {
  private stopped = false;
  private done: Promise<void> = Promise.resolve();

  constructor(private readonly deps: UpdateGateDeps) {}

  /** Starts the checks in the background when the updater waits for this version's verdict. */
  async start(): Promise<void> {
    const state = await this.deps.readState();
    if (
      state?.state !== 'verifying-health' ||
      state.version !== this.deps.version ||
      !state.attempt ||
      !state.gate?.deadline
    )
      return;
    this.deps.log.info(
      { version: state.version, cameras: state.gate.cameras, mqtt: state.gate.mqtt },
      'update health gate started',
    );
    this.done = this.run(state.attempt, state.gate as Required<NonNullable<RootUpdateState['gate']>>).catch(
      (error: unknown) => this.deps.log.error({ err: error }, 'update health gate failed to run'),
    );
  }

  /** Stops checking (the agent is stopping: no verdict, which the updater treats as a failure). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  private async run(attempt: string, gate: { cameras: string[]; mqtt: boolean; deadline: number }): Promise<void> {
    const clock = this.deps.clock ?? systemClock;
    const framesSeen = new Set<string>();
    let playlist = gate.cameras.length === 0;
    let birth = !gate.mqtt;
    let lastBirthError: string | null = null;
    while (!this.stopped) {
      for (const s of this.deps.stats()) {
        if (s.lastFrameAgeSeconds !== null && s.lastFrameAgeSeconds <= FRESH_FRAME_SECONDS) framesSeen.add(s.camera);
      }
      if (!playlist) playlist = await this.playlistWritten(gate.cameras);
      if (!birth) {
        lastBirthError = await this.deps.roundTrip();
        birth = lastBirthError === null;
      }
      const missing = [
        ...gate.cameras.filter((c) => !framesSeen.has(c)).map((c) => `camera ${c} produced no frame`),
        ...(playlist ? [] : ['no HLS segment was written']),
        ...(birth ? [] : [`no MQTT birth (${lastBirthError ?? 'not tried'})`]),
      ];
      if (missing.length === 0) return this.verdict(attempt, 'passed', null);
      if (clock.now() >= gate.deadline)
        return this.verdict(attempt, 'failed', `by the deadline: ${missing.join('; ')}`);
      await new Promise((resolve) => setTimeout(resolve, this.deps.pollMs ?? 1000));
    }
  }

  /** A playlist of one of the cameras, rewritten since this start and listing a segment. */
  private async playlistWritten(cameras: string[]): Promise<boolean> {
    for (const camera of cameras) {
      const file = path.join(this.deps.hlsDir(camera), 'index.m3u8');
      const st = await stat(file).catch(() => null);
      if (!st || st.mtimeMs < this.deps.startedAt) continue;
      if (/^[^#\s].*\.ts\s*$/m.test(await readFile(file, 'utf8').catch(() => ''))) return true;
    }
    return false;
  }

  private async verdict(attempt: string, state: 'passed' | 'failed', reason: string | null): Promise<void> {
    const ts = new Date((this.deps.clock ?? systemClock).now()).toISOString();
    await this.deps.writeVerdict({ attempt, version: this.deps.version, pid: process.pid, state, reason, ts });
    if (state === 'passed') this.deps.log.info({ attempt }, 'update health gate passed');
    else this.deps.log.error({ attempt, reason }, 'update health gate failed');
  }
}

/**
 * GET /metrics (issue 19): the agent's figures in the Prometheus text format, written by
 * prom-client. Gauges are read at scrape time from the health snapshot; counters come from bus
 * events (archives, analysis failures) or from the running totals the modules keep (frames,
 * restarts, connects), carried over their resets so they never go down while the agent runs.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Counter, Gauge, Registry } from 'prom-client';
import type { ArchiveInfo } from '../contract/events.js';
import type { CameraStats } from '../contract/services.js';
import type { EventBus } from '../util/bus.js';

/** prom-client, loaded at the first scrape (issue 20: ~2 MB and 0.2 s of start-up where nobody scrapes). */
type Prom = typeof import('prom-client');

/** Archive events counted before prom-client is loaded; past this many it is loaded anyway, so they stay few. */
const PENDING_MAX = 500;

/** A frame older than this counts the camera as down (the /healthz bound). */
const STALE_FRAME_SECONDS = 5;

/** What the metrics read; agent.ts builds it. */
export interface AgentMetricsDeps {
  bus: EventBus;
  /** The health collector's snapshot (HealthReport plus the agent's extras: outbox, mqtt, analysis, recordingHoursLeft). */
  health: () => Promise<object>;
}

/** The figures of a health snapshot the metrics use; every one may be missing or null. */
interface Figures {
  cameras: CameraStats[];
  diskFree: number | null;
  diskTotal: number | null;
  hoursLeft: number | null;
  temperatures: Array<{ zone: string; type: string; celsius: number }>;
  maxTemperature: number | null;
  underVoltage: boolean | null;
  throttling: Record<string, unknown> | null;
  outboxDepth: number | null;
  outboxDropped: number | null;
  mqtt: { connected: boolean; connects: number } | null;
  analysis: { queued: number; active: number; tokensToday: number; sentToday: number } | null;
}

const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);
const obj = (value: unknown): Record<string, unknown> | null =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;

/** Reads the figures out of a snapshot defensively: a shape change upstream drops a metric, never the scrape. */
export function figuresOf(snapshot: object): Figures {
  const s = snapshot as Record<string, unknown>;
  const disk = obj(s.disk);
  const outbox = obj(s.outbox);
  const mqtt = obj(s.mqtt);
  const analysis = obj(s.analysis);
  const temperatures = Array.isArray(s.temperatures) ? s.temperatures.filter((t) => num(obj(t)?.celsius) !== null) : [];
  return {
    cameras: Array.isArray(s.cameras) ? (s.cameras as CameraStats[]) : [],
    diskFree: num(disk?.freeBytes),
    diskTotal: num(disk?.totalBytes),
    hoursLeft: num(s.recordingHoursLeft),
    temperatures: temperatures as Figures['temperatures'],
    maxTemperature: num(s.maxTemperatureCelsius),
    underVoltage: typeof s.underVoltage === 'boolean' ? s.underVoltage : null,
    throttling: obj(s.throttling),
    outboxDepth: num(outbox?.depth),
    outboxDropped: num(outbox?.dropped),
    mqtt: mqtt ? { connected: mqtt.connected === true, connects: num(mqtt.connects) ?? 0 } : null,
    analysis: analysis
      ? {
          queued: num(analysis.queued) ?? 0,
          active: num(analysis.active) ?? 0,
          tokensToday: num(analysis.tokensToday) ?? 0,
          sentToday: num(analysis.sentToday) ?? 0,
        }
      : null,
  };
}

/**
 * Turns a running total that starts again from zero now and then (a new FFmpeg run, a rebuilt
 * supervisor, a new UTC day) into a counter that only grows: a value below the last one is a
 * reset, and all of it is new. What the source counted between the last scrape and its reset is
 * not seen.
 */
export class RunningTotal {
  private readonly last = new Map<string, number>();

  /** The increase since the previous reading of `key`. */
  delta(key: string, value: number): number {
    const before = this.last.get(key);
    this.last.set(key, value);
    if (before === undefined || value < before) return value;
    return value - before;
  }

  /** Forgets keys not in `keep` (a removed camera). Returns the ones forgotten. */
  retain(keep: Set<string>): string[] {
    const gone = [...this.last.keys()].filter((k) => !keep.has(k.split('\u0000')[0]!));
    for (const k of gone) this.last.delete(k);
    return gone;
  }
}

/** Throttling flags exported as `edge_agent_board_throttling{flag}`: Pi firmware names in snake case. */
const THROTTLE_FLAGS: Record<string, string> = {
  underVoltageNow: 'under_voltage_now',
  freqCappedNow: 'frequency_capped_now',
  throttledNow: 'throttled_now',
  softTempLimitNow: 'soft_temperature_limit_now',
  underVoltageEver: 'under_voltage_since_boot',
  freqCappedEver: 'frequency_capped_since_boot',
  throttledEver: 'throttled_since_boot',
  softTempLimitEver: 'soft_temperature_limit_since_boot',
};

/**
 * The agent's metrics registry: built once per agent, at the first scrape (prom-client is loaded
 * then), it outlives restarts of the HTTP server. Bus events before it exists are kept and counted
 * when it is built; the default process metrics (event loop, GC) start at the first scrape.
 */
export class AgentMetrics {
  private readonly totals = new RunningTotal();
  private readonly offs: Array<() => void> = [];
  private events: EventCounters | null = null;
  private readonly pending: Array<(events: EventCounters) => void> = [];
  private loading: Promise<Registry> | null = null;

  constructor(private readonly deps: AgentMetricsDeps) {}

  /** Subscribes to the bus; call while the bus is held, before modules emit. */
  start(): void {
    const { bus } = this.deps;
    this.stop();
    this.offs.push(
      bus.on('archive.finished', (e) => this.count((c) => c.archive(e, false))),
      bus.on('archive.recovered', (e) => this.count((c) => c.archive(e, true))),
      bus.on('analysis.failed', () => this.count((c) => c.analysisFailures.inc())),
    );
  }

  private count(apply: (events: EventCounters) => void): void {
    if (this.events) return apply(this.events);
    this.pending.push(apply);
    if (this.pending.length >= PENDING_MAX) this.load().catch(() => {});
  }

  /** Loads prom-client and builds the registry (once), then counts the events kept meanwhile. */
  private load(): Promise<Registry> {
    this.loading ??= import('prom-client').then(
      (prom) => {
        const registry = new prom.Registry();
        this.register(prom, registry);
        const events = eventCounters(prom, registry);
        this.events = events;
        for (const apply of this.pending.splice(0)) apply(events);
        return registry;
      },
      (error: unknown) => {
        this.loading = null;
        throw error;
      },
    );
    return this.loading;
  }

  private register(prom: Prom, registry: Registry): void {
    prom.collectDefaultMetrics({ register: registry });
    // prom-client reads all metrics of a scrape at once: each scrape-fed metric awaits the one
    // update below, which reads one health snapshot and sets every gauge and counter from it.
    let pending: Promise<void> | null = null;
    const collect = async (): Promise<void> => {
      pending ??= this.deps
        .health()
        // A failed snapshot still answers: the metrics it would have set are left out.
        .catch(() => ({}))
        .then((snapshot) => apply(figuresOf(snapshot)))
        // registry.metrics() calls every collect() synchronously, before this settles.
        .finally(() => (pending = null));
      await pending;
    };
    const r = [registry];
    const counter = (name: string, help: string, labelNames: string[] = []) =>
      new prom.Counter({ name, help, labelNames, registers: r, collect });
    const cameraCounters = {
      frames: counter('edge_agent_camera_frames_total', 'Frames encoded per camera.', ['camera']),
      dropped: counter('edge_agent_camera_dropped_frames_total', 'Frames FFmpeg dropped per camera.', ['camera']),
      restarts: counter('edge_agent_camera_restarts_total', 'Pipeline restarts per camera.', ['camera']),
    };
    const mqttConnects = counter('edge_agent_mqtt_connects_total', 'Successful broker connections.');
    const mqttReconnects = counter(
      'edge_agent_mqtt_reconnects_total',
      'Broker connections after the first of each link start.',
    );
    const outboxDropped = counter(
      'edge_agent_outbox_dropped_total',
      'Outbox messages dropped (cap overflow or refused by the broker) since the store was created.',
    );
    const tokens = counter('edge_agent_analysis_tokens_total', 'Model tokens used by analysis.');
    const requests = counter('edge_agent_analysis_requests_total', 'Archives sent to the model.');
    const fill = this.gauges(prom, registry, collect);
    const totals = this.totals;
    const add = (
      metric: Counter<string>,
      key: string,
      value: number | null | undefined,
      labels?: Record<string, string>,
    ) => {
      if (value === null || value === undefined) return;
      const d = totals.delta(key, value);
      // inc by 0 too: a camera's series exists (at 0) from its first scrape on.
      if (labels) metric.inc(labels, d);
      else if (d > 0) metric.inc(d);
    };
    const apply = (f: Figures) => {
      const ids = new Set(f.cameras.map((c) => c.camera));
      // A removed camera's counters go with it.
      for (const key of totals.retain(new Set([...ids, 'mqtt', 'outbox', 'analysis']))) {
        for (const c of Object.values(cameraCounters)) c.remove({ camera: key.split('\u0000')[0]! });
      }
      for (const c of f.cameras) {
        const labels = { camera: c.camera };
        add(cameraCounters.frames, `${c.camera}\u0000frames`, c.framesTotal, labels);
        add(cameraCounters.dropped, `${c.camera}\u0000dropped`, c.droppedFramesTotal ?? c.droppedFrames, labels);
        add(cameraCounters.restarts, `${c.camera}\u0000restarts`, c.restarts, labels);
      }
      if (f.mqtt) {
        add(mqttConnects, 'mqtt\u0000connects', f.mqtt.connects);
        add(mqttReconnects, 'mqtt\u0000reconnects', Math.max(0, f.mqtt.connects - 1));
      }
      add(outboxDropped, 'outbox\u0000dropped', f.outboxDropped);
      if (f.analysis) {
        add(tokens, 'analysis\u0000tokens', f.analysis.tokensToday);
        add(requests, 'analysis\u0000requests', f.analysis.sentToday);
      }
      fill(f);
    };
  }

  /** Unsubscribes from the bus (the registry and its counts stay). */
  stop(): void {
    for (const off of this.offs.splice(0)) off();
  }

  /** The exposition: content type and text. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    const registry = await this.load();
    return { contentType: registry.contentType, body: await registry.metrics() };
  }

  /** Gauges set from each scrape's snapshot; returns the function that sets them. */
  private gauges(prom: Prom, registry: Registry, collect: () => Promise<void>) {
    const r = [registry];
    const g = (name: string, help: string, labelNames: string[] = []) =>
      new prom.Gauge({ name, help, labelNames, registers: r, collect });
    const up = g(
      'edge_agent_camera_up',
      `1 while the camera's pipeline runs with a frame younger than ${STALE_FRAME_SECONDS} s.`,
      ['camera'],
    );
    const info = g('edge_agent_camera_info', "Always 1: the camera's encoder and source as labels.", [
      'camera',
      'encoder',
      'source',
    ]);
    const fps = g('edge_agent_camera_fps', 'Frames per second FFmpeg reports.', ['camera']);
    const age = g('edge_agent_camera_last_frame_age_seconds', 'Seconds since the last new frame.', ['camera']);
    const diskFree = g('edge_agent_disk_free_bytes', 'Free bytes on the file system of archive.dir.');
    const diskSize = g('edge_agent_disk_size_bytes', 'Size of the file system of archive.dir.');
    const left = g(
      'edge_agent_recording_remaining_seconds',
      'Recording time the free space above archive.minFreePercent still holds.',
    );
    const soc = g('edge_agent_soc_temperature_celsius', 'The hottest thermal zone of the board.');
    const zones = g('edge_agent_temperature_celsius', 'Each thermal zone.', ['zone', 'type']);
    const underVoltage = g('edge_agent_board_under_voltage', '1 while the board reports under-voltage.');
    const throttling = g(
      'edge_agent_board_throttling',
      "The Pi firmware's throttling flags (vcgencmd get_throttled), 1 when set.",
      ['flag'],
    );
    const depth = g('edge_agent_outbox_depth', 'Messages waiting in the outbox for a broker acknowledgement.');
    const connected = g('edge_agent_mqtt_connected', '1 while the broker connection is up.');
    const queued = g('edge_agent_analysis_queue_length', 'Archives waiting for analysis or being analysed.');
    return (f: Figures) => {
      for (const gauge of [
        up,
        info,
        fps,
        age,
        diskFree,
        diskSize,
        left,
        soc,
        zones,
        underVoltage,
        throttling,
        depth,
        connected,
        queued,
      ])
        gauge.reset();
      for (const c of f.cameras) {
        const running =
          c.state === 'running' && c.lastFrameAgeSeconds !== null && c.lastFrameAgeSeconds < STALE_FRAME_SECONDS;
        up.set({ camera: c.camera }, Number(running));
        info.set({ camera: c.camera, encoder: c.encoder ?? 'none', source: c.source }, 1);
        fps.set({ camera: c.camera }, c.fps);
        if (c.lastFrameAgeSeconds !== null) age.set({ camera: c.camera }, c.lastFrameAgeSeconds);
      }
      // prom-client resets an unlabelled gauge to 0; a figure the board cannot give is left out instead.
      const set = (gauge: Gauge<string>, value: number | null) => (value === null ? gauge.remove() : gauge.set(value));
      set(diskFree, f.diskFree);
      set(diskSize, f.diskTotal);
      set(left, f.hoursLeft === null ? null : f.hoursLeft * 3600);
      set(soc, f.maxTemperature);
      for (const t of f.temperatures) zones.set({ zone: t.zone, type: t.type }, t.celsius);
      set(underVoltage, f.underVoltage === null ? null : Number(f.underVoltage));
      for (const [key, flag] of Object.entries(THROTTLE_FLAGS)) {
        const value = f.throttling?.[key];
        if (typeof value === 'boolean') throttling.set({ flag }, Number(value));
      }
      set(depth, f.outboxDepth);
      set(connected, f.mqtt ? Number(f.mqtt.connected) : null);
      set(queued, f.analysis ? f.analysis.queued + f.analysis.active : null);
    };
  }
}

/** The counters and histogram fed by bus events. */
interface EventCounters {
  archive(info: ArchiveInfo, recovered: boolean): void;
  analysisFailures: Counter<string>;
}

function eventCounters(prom: Prom, registry: Registry): EventCounters {
  const registers = [registry];
  const labelNames = ['camera'];
  const counter = (name: string, help: string) => new prom.Counter({ name, help, labelNames, registers });
  const finished = counter('edge_agent_archives_finished_total', 'Archives finished (closed at a cut or a stop).');
  const recovered = counter('edge_agent_archives_recovered_total', 'Archives recovered after a fault.');
  const bytes = counter('edge_agent_archive_written_bytes_total', 'Bytes of finished and recovered archives.');
  const seconds = counter(
    'edge_agent_archive_recorded_seconds_total',
    'Seconds of video in finished and recovered archives.',
  );
  const lost = counter(
    'edge_agent_archive_recovery_lost_seconds_total',
    "Seconds between the end of a recovered archive and its recording's last write on disk (a lower bound of the loss).",
  );
  const finishDuration = new prom.Histogram({
    name: 'edge_agent_archive_finish_duration_seconds',
    help: 'Time to make an MP4 archive from its recording (remux, fsync, rename).',
    labelNames,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  return {
    archive(info, wasRecovered) {
      const labels = { camera: info.camera };
      (wasRecovered ? recovered : finished).inc(labels);
      bytes.inc(labels, info.bytes);
      seconds.inc(labels, info.seconds);
      if (typeof info.finishSeconds === 'number') finishDuration.observe(labels, info.finishSeconds);
      if (wasRecovered && typeof info.lostSeconds === 'number') lost.inc(labels, info.lostSeconds);
    },
    analysisFailures: new prom.Counter({
      name: 'edge_agent_analysis_failures_total',
      help: 'Archives whose analysis failed for good.',
      registers,
    }),
  };
}

/** A scrape: the exposition's content type and text. */
export type MetricsScrape = () => Promise<{ contentType: string; body: string }>;

/** Answers GET/HEAD /metrics (the server has checked the token already). */
export async function serveMetrics(req: IncomingMessage, res: ServerResponse, scrape: MetricsScrape): Promise<void> {
  const { contentType, body } = await scrape();
  const bytes = Buffer.from(body);
  res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': bytes.length, 'Cache-Control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : bytes);
}

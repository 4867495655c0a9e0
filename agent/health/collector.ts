/**
 * The health collector: one snapshot of the board and the pipelines for R/health, /api/status
 * and the status page. Reads only; it never decides or restarts anything.
 */
import os from 'node:os';
import type { AgentConfig } from '../config/types.js';
import type { CameraStats, PipelineControl } from '../contract/services.js';
import { nearestDiskSpace } from '../util/disk.js';
import {
  NO_SENSORS,
  type OverCurrentEvents,
  type PowerRail,
  type SensorReadings,
  type Temperature,
  type ThrottleFlags,
} from '../../device/sensors.js';

/** Space on the file system holding `archive.dir`. */
export interface DiskUsage {
  path: string;
  totalBytes: number;
  freeBytes: number;
  /** Free space available to the agent, in percent of the total (what retention compares). */
  freePercent: number;
}

/** One health snapshot, as published on R/health and shown on the status page. */
export interface HealthReport {
  ts: string;
  device: string;
  cpu: { loadPercent: number | null; loadAverage: number[]; cores: number };
  memory: { totalBytes: number; availableBytes: number; usedPercent: number };
  temperatures: Temperature[];
  /** The hottest zone, the figure a technician looks at first. */
  maxTemperatureCelsius: number | null;
  underVoltage: boolean | null;
  throttling: ThrottleFlags | null;
  gpuLoadPercent: number | null;
  /** Jetson INA3221 rails (`VDD_IN` is the module's whole draw); null elsewhere. */
  powerRails: PowerRail[] | null;
  /** Jetson Orin over-current/under-voltage event counters since boot; null elsewhere. */
  overCurrent: OverCurrentEvents | null;
  disk: DiskUsage | null;
  cameras: CameraStats[];
  process: { uptimeSeconds: number; rssBytes: number; heapUsedBytes: number };
  /** Whatever main adds through `extra` (outbox depth, mqtt state, analysis totals). */
  [extra: string]: unknown;
}

/** Something that reads the board's sensors (device/sensors.ts's Sensors). */
export interface SensorSource {
  read(): Promise<SensorReadings>;
}

/** What the collector needs; agent.ts builds it. */
export interface HealthCollectorDeps {
  /** The running config, read at every snapshot (a changed archive.dir is measured at once). */
  config: () => AgentConfig;
  pipeline: PipelineControl;
  sensors: SensorSource;
  /** Figures other modules own (outbox depth, mqtt state, analysis totals), merged in at the top level. */
  extra?: () => Record<string, unknown>;
  now?: () => Date;
}

interface CpuSample {
  idle: number;
  total: number;
}

function sampleCpu(): CpuSample {
  let idle = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    const { user, nice, sys, idle: i, irq } = cpu.times;
    idle += i;
    total += user + nice + sys + i + irq;
  }
  return { idle, total };
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

/** Disk usage of `path`, or of its nearest existing parent (archive.dir may not exist yet). */
export async function diskUsage(path: string): Promise<DiskUsage | null> {
  const found = await nearestDiskSpace(path);
  if (!found) return null;
  const { totalBytes, freeBytes } = found.space;
  return { path, totalBytes, freeBytes, freePercent: totalBytes > 0 ? round1((freeBytes / totalBytes) * 100) : 0 };
}

/** Builds health snapshots on demand; keeps only the previous CPU sample between calls. */
export class HealthCollector {
  private lastCpu: CpuSample;

  constructor(private readonly deps: HealthCollectorDeps) {
    // systeminformation's currentLoad() took 0.5 s and said 0 % on its first call here; the
    // kernel's per-CPU counters give the same figure for free, as the delta between snapshots.
    this.lastCpu = sampleCpu();
  }

  /** The CPU busy share since the previous snapshot (or since construction), in percent. */
  private cpuLoad(): number | null {
    const sample = sampleCpu();
    const total = sample.total - this.lastCpu.total;
    const idle = sample.idle - this.lastCpu.idle;
    this.lastCpu = sample;
    return total > 0 ? round1(((total - idle) / total) * 100) : null;
  }

  /** One full snapshot; a sensor or disk that cannot be read is reported as null, never thrown. */
  async snapshot(): Promise<HealthReport> {
    const { pipeline, sensors, extra, now = () => new Date() } = this.deps;
    const config = this.deps.config();
    const [sensorReadings, disk] = await Promise.all([
      sensors.read().catch((): SensorReadings => NO_SENSORS),
      diskUsage(config.archive.dir),
    ]);
    const totalBytes = os.totalmem();
    // os.freemem() is MemAvailable on Linux (libuv >= 1.45), which counts reclaimable page cache.
    const availableBytes = os.freemem();
    const memUsage = process.memoryUsage();
    const temps = sensorReadings.temperatures.map((t) => t.celsius);
    return {
      ...(extra?.() ?? {}),
      ts: now().toISOString(),
      device: config.device.id,
      cpu: { loadPercent: this.cpuLoad(), loadAverage: os.loadavg().map((n) => round1(n)), cores: os.cpus().length },
      memory: { totalBytes, availableBytes, usedPercent: round1(((totalBytes - availableBytes) / totalBytes) * 100) },
      temperatures: sensorReadings.temperatures,
      maxTemperatureCelsius: temps.length > 0 ? Math.max(...temps) : null,
      underVoltage: sensorReadings.underVoltage,
      throttling: sensorReadings.throttling,
      gpuLoadPercent: sensorReadings.gpuLoadPercent,
      powerRails: sensorReadings.powerRails,
      overCurrent: sensorReadings.overCurrent,
      disk,
      cameras: pipeline.stats(),
      process: {
        uptimeSeconds: Math.round(process.uptime()),
        rssBytes: memUsage.rss,
        heapUsedBytes: memUsage.heapUsed,
      },
    };
  }
}

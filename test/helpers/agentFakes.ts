/** Fake PipelineControl, ArchiveCatalog, ConfigControl and friends for link and command tests. */
import type { ConfigControl, CommandDeps } from '../../agent/commands/types.js';
import type { AgentConfig } from '../../agent/config/types.js';
import { ConfigError } from '../../agent/contract/errors.js';
import type { ArchiveCatalog, ArchiveEntry, PipelineControl } from '../../agent/contract/services.js';
import { agentConfig } from './config.js';

/** The config of the link and command tests: device gate-01 with two small test cameras. */
export function testConfig(over: { deviceId?: string; url?: string; dataDir?: string } = {}): AgentConfig {
  const camera = { source: 'test', width: 320, height: 240, fps: 10 };
  return agentConfig({
    device: { id: over.deviceId ?? 'gate-01' },
    cameras: [
      { id: 'cam1', ...camera },
      { id: 'cam2', ...camera },
    ],
    hls: { dir: '/tmp/hls' },
    archive: { dir: '/tmp/archive' },
    mqtt: { url: over.url ?? 'embedded', passwordFile: '/etc/edge-agent/mqtt-password' },
    dataDir: over.dataDir ?? '/tmp/edge-agent',
  });
}

/** Redaction for tests: the secret-bearing file names become "[redacted]". */
export function fakeRedact(config: AgentConfig): AgentConfig {
  return { ...config, mqtt: { ...config.mqtt, passwordFile: config.mqtt.passwordFile && '[redacted]' } };
}

/** An in-memory ConfigControl accepting a few keys, so tests can see a change (or its absence). */
export class FakeConfig implements ConfigControl {
  sets: Array<Record<string, unknown>> = [];
  constructor(public config: AgentConfig) {}
  current(): AgentConfig {
    return this.config;
  }
  async set(sets: Record<string, unknown>): Promise<{ changed: string[] }> {
    const next = structuredClone(this.config);
    const problems: string[] = [];
    for (const [key, value] of Object.entries(sets)) {
      if (key === 'mqtt.healthIntervalSeconds' && Number.isInteger(value) && (value as number) >= 1)
        next.mqtt.healthIntervalSeconds = value as number;
      else if (
        /^cameras\[(\d)\]\.fps$/.test(key) &&
        Number.isInteger(value) &&
        (value as number) >= 1 &&
        (value as number) <= 120
      ) {
        const camera = next.cameras[Number(key[8])];
        if (camera) camera.fps = value as number;
        else problems.push(`${key} does not exist`);
      } else problems.push(`${key} cannot be set to ${JSON.stringify(value)}`);
    }
    if (problems.length) throw new ConfigError(problems);
    this.sets.push(sets);
    this.config = next;
    return { changed: Object.keys(sets) };
  }
}

/** A pipeline that records restarts and returns a tiny JPEG. */
export function fakePipeline(config: () => AgentConfig): PipelineControl & { restarts: string[] } {
  const restarts: string[] = [];
  return {
    restarts,
    stats: () => [],
    restart: async (camera) => {
      const ids = camera ? [camera] : config().cameras.map((c) => c.id);
      restarts.push(...ids);
      return ids;
    },
    snapshot: async (camera) => ({
      camera: camera ?? 'cam1',
      jpeg: Buffer.from([0xff, 0xd8, 0xff, 0xd9]),
      width: 320,
      height: 240,
      ts: '2025-01-01T00:00:00.000Z',
    }),
    hlsDir: (camera) => `/tmp/hls/${camera}`,
  };
}

/** Two archives of cam1. */
export const ARCHIVES: ArchiveEntry[] = [
  {
    camera: 'cam1',
    file: 'cam1/2025-01-01/archive_20250101T001000Z.mp4',
    start: '2025-01-01T00:10:00Z',
    seconds: 600,
    bytes: 1000,
    analysed: false,
    clockSynced: true,
  },
  {
    camera: 'cam1',
    file: 'cam1/2025-01-01/archive_20250101T000000Z.mp4',
    start: '2025-01-01T00:00:00Z',
    seconds: 600,
    bytes: 900,
    analysed: true,
    clockSynced: true,
  },
];

/** A catalog over ARCHIVES. */
export function fakeArchives(): ArchiveCatalog {
  return {
    list: async ({ camera, limit }) => ARCHIVES.filter((a) => !camera || a.camera === camera).slice(0, limit ?? 100),
    resolve: async (file) => (ARCHIVES.some((a) => a.file === file) ? `/tmp/archive/${file}` : null),
    analysis: async () => null,
  };
}

/** Full command deps over the fakes; `queued` records analysis requests. */
export function fakeCommandDeps(config: FakeConfig, withAnalysis = true) {
  const queued: Array<[string, string]> = [];
  const pipeline = fakePipeline(() => config.current());
  const deps: CommandDeps = {
    version: '0.1.0-test',
    startedAt: new Date(Date.now() - 5000).toISOString(),
    config,
    redact: fakeRedact,
    pipeline,
    archives: fakeArchives(),
    analysis: withAnalysis ? { enqueue: async (camera, file) => void queued.push([camera, file]) } : undefined,
    probe: async () => ({ cameras: [], encoders: [{ name: 'libx264', works: true }] }),
  };
  return { deps, queued, pipeline };
}

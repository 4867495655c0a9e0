import { mkdir } from 'node:fs/promises';
import { listCameras } from '../device/cameras.js';
import { detectBoard } from '../device/board.js';
import { captureInput } from '../device/sources/index.js';
import type { BoardInfo, EncoderCandidate } from '../device/types.js';
import { DiskArchiveCatalog } from './archive/catalog.js';
import { Retention } from './archive/retention.js';
import type { CliOptions } from './cli/options.js';
import { loadConfig, resolveConfigPath } from './config/load.js';
import type { AgentConfig, CameraConfig } from './config/types.js';
import { ConfigError } from './contract/errors.js';
import { planEncoders } from './encoderPlan.js';
import { PipelineManager } from './pipeline/manager.js';
import { CameraSupervisor } from './pipeline/supervisor.js';
import { isClockSynced } from './util/clockSync.js';
import { EventBus } from './util/bus.js';
import { createRootLogger, type Logger } from './util/logger.js';
import { VERSION } from './version.js';

/** How often retention looks at the disk besides after every finished archive. */
const RETENTION_INTERVAL_MS = 60_000;

/** The running agent: every module, built from one config. Only main.ts constructs modules. */
export class Agent {
  readonly bus = new EventBus();
  readonly startedAt = new Date();
  pipeline!: PipelineManager;
  archives!: DiskArchiveCatalog;
  private retention!: Retention;
  private retentionTimer: NodeJS.Timeout | null = null;
  private board!: BoardInfo;

  constructor(
    public config: AgentConfig,
    readonly configFile: string | null,
    readonly log: Logger,
  ) {
    this.bus.onListenerError((error, event) => log.error({ err: error, event: event.type }, 'event listener failed'));
  }

  /** Builds and starts every module. */
  async start(): Promise<void> {
    const { config, log } = this;
    for (const dir of [config.dataDir, config.archive.dir, config.hls.dir]) await mkdir(dir, { recursive: true });
    this.board = await detectBoard();
    log.info({ board: this.board.model, family: this.board.family }, 'board detected');
    this.archives = new DiskArchiveCatalog(config.archive.dir);
    this.startRetention();
    await this.startPipeline();
    log.info({ hls: config.hls.dir, archive: config.archive.dir, cameras: config.cameras.map((c) => c.id) }, 'agent running');
  }

  /** Stops every module; the pipelines finish the archives being written. */
  async stop(): Promise<void> {
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    await this.pipeline?.stop();
  }

  private async startPipeline(): Promise<void> {
    const { config, log } = this;
    const encoders = await planEncoders(config, this.board, async () => [], () => []);
    log.info({ encoders: encoders.map((e) => e.name) }, 'encoder ladder');
    const supervisors = new Map<string, CameraSupervisor>();
    for (const camera of config.cameras) {
      supervisors.set(
        camera.id,
        new CameraSupervisor({
          camera,
          config,
          bus: this.bus,
          log: log.child({ component: 'pipeline', camera: camera.id }),
          encoders,
          resolveCapture: (cam, encoder) => this.resolveCapture(cam, encoder),
          clockSynced: isClockSynced,
        }),
      );
    }
    this.pipeline = new PipelineManager(supervisors);
    await this.pipeline.start();
  }

  private async resolveCapture(camera: CameraConfig, encoder: EncoderCandidate) {
    // Enumerated at every start, so a camera plugged in later is found by `auto`.
    const cameras = camera.source === 'test' ? [] : await listCameras().catch(() => []);
    return captureInput(camera.source, camera, encoder, this.board, cameras, {
      bitrateKbps: this.config.encoder.bitrateKbps,
      keyframeSeconds: this.config.hls.segmentSeconds,
    });
  }

  private startRetention(): void {
    const { config } = this;
    this.retention = new Retention({
      archiveRoot: config.archive.dir,
      maxAgeHours: config.archive.maxAgeHours,
      minFreePercent: config.archive.minFreePercent,
      bus: this.bus,
      log: this.log.child({ component: 'retention' }),
    });
    const enforce = () => void this.retention.enforce().catch((error: unknown) => this.log.error({ err: error }, 'retention failed'));
    this.bus.on('archive.finished', enforce);
    this.retentionTimer = setInterval(enforce, RETENTION_INTERVAL_MS);
    enforce();
  }
}

/** `edge-agent run`: loads the config, runs the agent until SIGTERM/SIGINT, stops cleanly. */
export async function runAgent(options: CliOptions): Promise<number> {
  let loaded: { config: AgentConfig; file: string | null };
  try {
    loaded = loadConfig({ file: resolveConfigPath(options.config), sets: options.set });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`edge-agent: invalid config\n${error.problems.join('\n')}\n`);
    return 2;
  }
  const log = createRootLogger().child({ component: 'agent' });
  log.info({ version: VERSION, config: loaded.file ?? 'built-in defaults' }, 'starting');
  const agent = new Agent(loaded.config, loaded.file, log);
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  try {
    await agent.start();
  } catch (error) {
    log.fatal({ err: error }, 'could not start');
    await agent.stop().catch(() => undefined);
    return 1;
  }
  const signal = await stopped;
  log.info({ signal }, 'stopping');
  await agent.stop();
  log.info('stopped');
  return 0;
}

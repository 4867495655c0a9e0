import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { listCameras } from '../device/cameras.js';
import { detectBoard, hostRoot } from '../device/board.js';
import { candidatesForSource, chooseEncoders, encoderLadder } from '../device/encoders/index.js';
import { Sensors } from '../device/sensors.js';
import { captureInput } from '../device/sources/index.js';
import type { BoardInfo, EncoderCandidate } from '../device/types.js';
import { MotionMeters, motionScore } from './analysis/motion.js';
import type { AnalysisQueue } from './analysis/queue.js';
import { SearchIndex } from './analysis/search.js';
import { AnnouncedArchives } from './archive/announced.js';
import { analysisPathFor, DiskArchiveCatalog } from './archive/catalog.js';
import { unannouncedArchives } from './archive/catchUp.js';
import { Retention } from './archive/retention.js';
import { probeReport } from './cli/probe.js';
import { createCommands } from './commands/index.js';
import { DesiredConfig, type DesiredState } from './config/desired.js';
import type { ChangePlan } from './config/diff.js';
import { assertSecureTransports } from './config/transport.js';
import { loadCredentials, type Credentials } from './config/load.js';
import { redactConfig } from './config/redact.js';
import type { AgentConfig, CameraConfig } from './config/types.js';
import { AgentError } from './contract/errors.js';
import type { CameraStats, PipelineControl } from './contract/services.js';
import { buildTopics, isSafeReplyTopic } from './contract/topics.js';
import { planEncoders } from './encoderPlan.js';
import { HealthCollector } from './health/collector.js';
import { AgentMetrics } from './http/metrics.js';
import { HttpServer } from './http/server.js';
import { HomeAssistantDiscovery, type PublishedDiscovery } from './link/homeAssistant.js';
import { MqttLink } from './link/mqttLink.js';
import { LiveRelays } from './live/relay.js';
import { LinkPublisher } from './link/publisher.js';
import { CommandRouter } from './link/router.js';
import { SignatureVerifier } from './link/signature.js';
import { Outbox } from './outbox/outbox.js';
import { notYetStarted, PipelineManager } from './pipeline/manager.js';
import { withAllowLists } from './pipeline/sourcePolicy.js';
import { CameraSupervisor } from './pipeline/supervisor.js';
import { KeyValue, SeenSignatures } from './store/kv.js';
import { openStore, type Store } from './store/store.js';
import { EventBus } from './util/bus.js';
import { isClockSynced } from './util/clockSync.js';
import { removeStaleTemps } from './util/files.js';
import { LockFile } from './util/lockFile.js';
import type { Logger } from './util/logger.js';
import { VERSION } from './version.js';
import { ConfigService } from './config/configService.js';
import { encodeSettings } from './config/encodeSettings.js';
import { ModuleTable, type AgentModule } from './modules.js';
import { createUpdateModule, type UpdateModule } from './update/index.js';
import type { DesiredReleaseMemory } from './update/updates.js';

/** What start() opened before any module: the store and the modules' shared state. */
interface Core {
  store: Store;
  kv: KeyValue;
  announced: AnnouncedArchives;
  outbox: Outbox;
  search: SearchIndex;
  health: HealthCollector;
  metrics: AgentMetrics;
}

/**
 * The running agent. It builds every module from the config (only this file and main.ts
 * construct modules) and runs the start-up sequence (README "Start-up"); the module table
 * (modules.ts) starts, stops and reconfigures them. Every module reads the running config
 * through a getter, `() => this.config`, so a restarted module sees the change and one left
 * running never holds a stale copy.
 */
export class Agent {
  readonly bus = new EventBus();
  readonly startedAt = new Date();
  readonly archives = new DiskArchiveCatalog(() => this.config.archive.dir);
  readonly configService: ConfigService;
  readonly log: Logger;
  private credentials: Credentials;
  private lock: LockFile | null = null;
  private core: Core | null = null;
  private table: ModuleTable | null = null;
  private update: UpdateModule | null = null;
  // The modules other modules call into; null while stopped (or, for analysis, when disabled).
  private manager: PipelineManager | null = null;
  private analysis: AnalysisQueue | null = null;
  private link: MqttLink | null = null;
  private http: HttpServer | null = null;
  private retention: Retention | null = null;
  private unrecoverable: ((reason: string) => void) | null = null;
  // Motion meters outlive pipeline restarts; each FFmpeg run feeds its camera's meter.
  private readonly motion = new MotionMeters();
  // Likewise the live view's relays: the pipelines attach each run, the server subscribes viewers,
  // and either can be rebuilt by a config change without the other.
  private readonly live: LiveRelays;

  /** PipelineControl that stays valid while the pipeline itself is rebuilt on a config change. */
  readonly pipeline: PipelineControl = {
    stats: () => this.manager?.stats() ?? this.config.cameras.map(notYetStarted),
    restart: (camera) => this.requireManager().restart(camera),
    snapshot: (camera) => this.requireManager().snapshot(camera),
    hlsDir: (camera) => this.requireManager().hlsDir(camera),
  };

  constructor(
    public config: AgentConfig,
    private readonly configFile: string | null,
    // Modules take children of the root, so a record carries one `component`, not the agent's too.
    private readonly rootLog: Logger,
  ) {
    this.log = rootLog.child({ component: 'agent' });
    const { log } = this;
    this.bus.onListenerError((error, event) => log.error({ err: error, event: event.type }, 'event listener failed'));
    // Every event as its consumers get it: for a technician at debug level, and the typed record
    // the process tests wait on (test/helpers/agentProcess.ts waitEvent), not a log sentence.
    this.bus.onAny((event) => log.debug({ event }, 'event'));
    this.live = new LiveRelays(rootLog.child({ component: 'live' }));
    this.credentials = loadCredentials(config);
    // Secrets from systemd credentials or $GEMINI_API_KEY are invisible to `config check`: check here too.
    assertSecureTransports(config, this.credentials);
    this.configService = new ConfigService({
      file: configFile,
      current: () => this.config,
      apply: (next, plan) => this.reconfigure(next, plan),
      precheck: (next) => assertSecureTransports(next, loadCredentials(next)),
      signingRequired: () => this.credentials.commandKey !== null,
      probes: {
        link: () => this.link?.roundTrip() ?? Promise.resolve('the mqtt link is not running'),
        http: () => (this.http?.port != null ? null : `http is not listening on ${this.config.http.listen}`),
        cameras: () => this.pipeline.stats(),
      },
      unrecoverable: (reason) => {
        if (this.unrecoverable) this.unrecoverable(reason);
        else log.fatal({ reason }, 'config revert failed and nobody restarts the agent');
      },
      bus: this.bus,
      log: rootLog.child({ component: 'config' }),
    });
  }

  /** Called when a failed config change could not even be reverted: restart onto the committed file. */
  onUnrecoverable(handler: (reason: string) => void): void {
    this.unrecoverable = handler;
  }

  /** The start-up sequence, README "Start-up" steps 1-11 (step 1's config is main's). */
  async start(): Promise<void> {
    const { config, log } = this;
    for (const dir of [config.dataDir, config.archive.dir, config.hls.dir]) await mkdir(dir, { recursive: true });
    // A kill during a set-config write can leave the temp file of its atomic write behind.
    if (this.configFile) await removeStaleTemps(this.configFile);
    const board = await detectBoard(hostRoot());
    log.info({ board: board.model, family: board.family }, 'board detected');
    // Step 2: the lock before anything records, then the store and what every module shares through it.
    this.lock = new LockFile({ path: path.join(config.dataDir, 'agent.lock') });
    this.lock.acquire();
    const core = this.openCore();
    this.core = core;
    // Steps 3-8: the bus is held while the table starts the pipelines, then every other module.
    this.table = new ModuleTable(this.buildModules(core, board), { bus: this.bus, log });
    await this.table.start();
    // Step 9.
    await this.catchUp(core.announced);
    log.info(
      { hls: config.hls.dir, archive: config.archive.dir, cameras: config.cameras.map((c) => c.id) },
      'agent running',
    );
    // Step 10.
    this.configService.open();
    // Step 11: the release an update just switched to checks its own health.
    await this.update?.gate.start();
  }

  /** Stops every module (the pipelines finish the archives being written, offline is published), then the store. */
  async stop(): Promise<void> {
    // A change in progress is cut short and reverted before the modules it touches are stopped.
    await this.configService.close();
    await this.update?.gate.stop();
    await this.table?.stop();
    this.core?.store.close();
    this.core = null;
    this.lock?.release();
    this.lock = null;
  }

  /**
   * What the systemd watchdog asks: is the agent itself alive? True while every camera produces
   * frames or is being retried by its supervisor. A dead camera is camera.lost, in health and on
   * /healthz; only a supervisor stuck past its liveness bound stops the pings (README "Watchdog").
   */
  healthy(): boolean {
    const stats = this.pipeline.stats();
    return stats.length > 0 && stats.every((s: CameraStats) => s.supervised === true);
  }

  private requireManager(): PipelineManager {
    if (!this.manager) throw new Error('the pipeline is not running');
    return this.manager;
  }

  /** Applies a validated new config: the table restarts only the modules (and cameras) it touches. */
  private async reconfigure(next: AgentConfig, plan: ChangePlan): Promise<void> {
    this.config = next;
    this.credentials = loadCredentials(next);
    if (!this.table) throw new Error('the agent is not running');
    await this.table.apply(plan);
  }

  /**
   * Start-up step 9 (README "Start-up"): announces the finished archives a crash left
   * unannounced. After the bus is released, so every archive recovered in step 3 is in the ledger
   * already; an archive found twice (its pipeline announcing it meanwhile) is still sent once.
   */
  private async catchUp(announced: AnnouncedArchives): Promise<void> {
    try {
      announced.prune();
      const found = await unannouncedArchives(this.config.archive.dir, {
        since: announced.since(),
        now: Date.now(),
        announced: (file) => announced.has(file),
      });
      for (const { type, payload } of found) {
        this.log.warn({ file: payload.file, event: type }, 'archive was never announced; announcing it now');
        this.bus.emit(type, payload);
      }
    } catch (error) {
      this.log.error({ err: error }, 'start-up catch-up of unannounced archives failed');
    }
  }

  private openCore(): Core {
    const store = openStore(this.config.dataDir);
    // Searchable whether or not analysis runs now; a hit must play, so a pruned archive leaves it.
    const search = new SearchIndex(store);
    search.init();
    this.bus.on('disk.pruned', (e) => search.remove(e.file));
    const outbox = new Outbox({ db: store, log: this.rootLog.child({ component: 'outbox' }) });
    const health = new HealthCollector({
      config: () => this.config,
      pipeline: this.pipeline,
      sensors: new Sensors({ sysRoot: path.join(hostRoot(), 'sys') }),
      extra: () => ({
        outbox: outbox.stats(),
        // Hours of recording the free space above archive.minFreePercent still holds.
        recordingHoursLeft: this.retention?.recordingHoursLeft() ?? null,
        mqtt: this.link?.status() ?? null,
        analysis: this.analysis?.stats() ?? null,
      }),
    });
    const metrics = new AgentMetrics({ bus: this.bus, health: () => health.snapshot() });
    return { store, kv: new KeyValue(store), announced: new AnnouncedArchives(store), outbox, search, health, metrics };
  }

  /** Every module in table order (README "Start-up" steps 3-8, the pipelines started ahead); stopped in reverse. */
  private buildModules(core: Core, board: BoardInfo): AgentModule[] {
    const { bus, rootLog } = this;
    const config = () => this.config;
    const mqttLog = rootLog.child({ component: 'mqtt' });
    const topics = () => buildTopics(this.config.mqtt.topicPrefix, this.config.device.id);
    const verifier = new SignatureVerifier({
      key: () => this.credentials.commandKey,
      deviceId: () => this.config.device.id,
      requireScoped: () => this.config.mqtt.requireScopedSignatures,
      persist: new SeenSignatures(core.store),
    });
    // The link and its publisher refer to each other's products (the update module publishes
    // R/release through the publisher, the link hands desired releases to the update module).
    let publisher: LinkPublisher | null = null;
    const update = createUpdateModule({
      version: VERSION,
      configFile: this.configFile,
      dataDir: () => this.config.dataDir,
      stats: () => this.pipeline.stats(),
      hlsDir: (camera) => this.pipeline.hlsDir(camera),
      mqttConnected: () => this.link?.isConnected() ?? false,
      roundTrip: () => this.link?.roundTrip() ?? Promise.resolve('the mqtt link is not running'),
      publish: (message) => void publisher?.publishRelease(message),
      memory: {
        load: () => core.kv.get<DesiredReleaseMemory>('release.desired'),
        save: (value) => core.kv.set('release.desired', value),
      },
      signingRequired: () => this.credentials.commandKey !== null,
      desiredSigned: (doc) => verifier.verifyDocument('release/desired', doc, topics().releaseDesired),
      startedAt: this.startedAt.getTime(),
      log: rootLog.child({ component: 'update' }),
    });
    this.update = update;
    const desired = new DesiredConfig({
      change: (request) => this.configService.change(request),
      load: () => core.kv.get<DesiredState>('config.desired'),
      save: (state) => core.kv.set('config.desired', state),
      report: (message) => void publisher?.publishReported(message),
      config: () => redactConfig(this.config),
      signed: (doc) => verifier.verifyDocument('config/desired', doc, topics().configDesired),
      log: rootLog.child({ component: 'config' }),
    });
    const commands = createCommands({
      version: VERSION,
      startedAt: this.startedAt.toISOString(),
      config: this.configService,
      redact: redactConfig,
      pipeline: this.pipeline,
      archives: this.archives,
      analysis: {
        enqueue: (camera, file) =>
          this.analysis
            ? this.analysis.enqueue(camera, file)
            : Promise.reject(new AgentError('bad_request', 'analysis is disabled (analysis.enabled is false)')),
      },
      probe: () =>
        probeReport({ config: this.config, cacheFile: path.join(this.config.dataDir, 'encoder-probe.json') }),
      search: core.search,
      updates: { request: (body) => update.control.request(body) },
    });
    const router = new CommandRouter({
      commands,
      log: mqttLog,
      verifier,
      replyTopicAllowed: (topic) => isSafeReplyTopic(topics(), topic),
    });
    const link = new MqttLink({
      config,
      password: () => this.credentials.mqttPassword,
      log: mqttLog,
      version: VERSION,
      startedAt: this.startedAt.toISOString(),
      outbox: core.outbox,
      router,
      nextSession: () => core.kv.next('mqtt.session'),
      onDesired: (payload) => desired.handle(payload),
      onReleaseDesired: (payload) => update.updates.handleDesired(payload),
    });
    this.link = link;
    const linkPublisher = new LinkPublisher({
      link,
      outbox: core.outbox,
      announced: core.announced,
      bus,
      health: core.health,
      config,
      redact: redactConfig,
      log: mqttLog,
      motionScore: (camera, startMs, endMs) => motionScore(this.motion.timelineFor(camera, startMs, endMs)),
    });
    publisher = linkPublisher;
    const homeAssistant = new HomeAssistantDiscovery({
      link,
      pipeline: this.pipeline,
      config,
      bus,
      version: VERSION,
      log: mqttLog,
      memory: {
        load: () => core.kv.get<PublishedDiscovery>('homeassistant.published'),
        save: (state) => core.kv.set('homeassistant.published', state),
      },
    });
    const retention = new Retention({
      config,
      bus,
      log: rootLog.child({ component: 'retention' }),
      isPendingAnalysis: (file) => this.analysis?.isPending(file) ?? false,
    });
    this.retention = retention;
    return [
      { name: 'metrics', slice: 'device', start: () => core.metrics.start(), stop: () => core.metrics.stop() },
      { name: 'outbox', slice: 'device', start: () => core.outbox.start(), stop: () => core.outbox.stop() },
      // Step 4: the event consumers; what the pipelines emit meanwhile waits on the held bus.
      {
        name: 'publisher',
        slice: 'health',
        start: () => linkPublisher.start(),
        stop: () => linkPublisher.stop(),
        applyInPlace: () => {
          linkPublisher.reschedule();
          return true;
        },
      },
      { name: 'home assistant', slice: 'device', start: () => homeAssistant.start(), stop: () => homeAssistant.stop() },
      // Step 5.
      { name: 'mqtt link', slice: 'mqtt', start: () => link.start(), stop: () => link.stop() },
      { name: 'retention', slice: 'archive', start: () => retention.start(), stop: () => retention.stop() },
      {
        name: 'analysis',
        slice: 'analysis',
        start: () => this.startAnalysis(core, linkPublisher),
        stop: () => this.stopAnalysis(),
      },
      // Step 3: the pipelines start ahead of the modules before them (the first HLS segment need
      // not wait for MQTT.js to load), and stop before them, so what they finish at shut-down is announced.
      {
        name: 'pipeline',
        slice: 'pipeline',
        startAhead: true,
        start: () => this.startPipeline(board),
        stop: () => this.stopPipeline(),
        applyInPlace: (plan) => this.replaceCameras(plan, board),
      },
      { name: 'http', slice: 'http', start: () => this.startHttp(core), stop: () => this.stopHttp() },
      {
        name: 'release updates',
        slice: 'device',
        start: () => update.updates.start(),
        stop: () => update.updates.stop(),
      },
    ];
  }

  private async startPipeline(board: BoardInfo): Promise<void> {
    const supervisors = new Map<string, CameraSupervisor>();
    for (const camera of this.config.cameras) supervisors.set(camera.id, await this.makeSupervisor(camera, board));
    this.manager = new PipelineManager(supervisors);
    await this.manager.start();
    // Started means FFmpeg spawned: until then the modules after it wait (the head start, step 3).
    await this.manager.underWay();
  }

  // The stopped manager stays: its cameras report `stopped` (/healthz 503) until a start replaces it.
  private async stopPipeline(): Promise<void> {
    await this.manager?.stop();
  }

  /** A change to some cameras only: those restart, the others keep recording. */
  private async replaceCameras(plan: ChangePlan, board: BoardInfo): Promise<boolean> {
    const { manager } = this;
    if (plan.cameras === 'all' || !manager) return false;
    const byId = new Map(this.config.cameras.map((c) => [c.id, c]));
    await manager.replace(
      plan.cameras,
      async (id) => {
        const camera = byId.get(id);
        return camera ? this.makeSupervisor(camera, board) : null;
      },
      this.config.cameras.map((c) => c.id),
    );
    return true;
  }

  private async makeSupervisor(camera: CameraConfig, board: BoardInfo): Promise<CameraSupervisor> {
    const log = this.rootLog.child({ component: 'pipeline', camera: camera.id });
    const encoders = await this.encodersFor(camera, board);
    log.info({ encoders: encoders.map((e) => e.name) }, 'encoder ladder');
    return new CameraSupervisor({
      camera,
      config: () => this.config,
      bus: this.bus,
      log,
      encoders,
      resolveCapture: (cam, encoder) => this.resolveCapture(cam, encoder, board),
      clockSynced: isClockSynced,
      // The tiny grey frame branch (4 fps) feeds the motion gate; only worth it when analysing.
      ...(this.config.analysis.enabled ? { motion: this.motion.forCamera(camera) } : {}),
      ...(this.config.http.liveView ? { live: this.live.forCamera(camera.id) } : {}),
    });
  }

  /** The camera's encoder ladder, hardware candidates proven by a cached test encode. */
  private encodersFor(camera: CameraConfig, board: BoardInfo): Promise<EncoderCandidate[]> {
    const settings = encodeSettings(this.config, camera);
    return planEncoders(
      this.config,
      board,
      async (candidates) =>
        (
          await chooseEncoders(candidates, settings, board, {
            cacheFile: path.join(this.config.dataDir, 'encoder-probe.json'),
          })
        ).working,
      (b) => candidatesForSource(encoderLadder(b), camera.source),
    );
  }

  private async resolveCapture(camera: CameraConfig, encoder: EncoderCandidate, board: BoardInfo) {
    // Enumerated at every start, so a camera plugged in later is found by `auto`.
    const cameras = camera.source === 'test' ? [] : await listCameras().catch(() => []);
    const capture = captureInput(camera.source, camera, encoder, board, cameras, encodeSettings(this.config, camera));
    return withAllowLists(camera.source, capture);
  }

  private async startAnalysis(core: Core, publisher: LinkPublisher): Promise<void> {
    const { config } = this;
    // Loaded only when wanted: @google/genai alone costs a board ~20 MB of memory.
    if (!config.analysis.enabled) return;
    const [{ AnalysisQueue }, { GeminiClient }] = await Promise.all([
      import('./analysis/queue.js'),
      import('./analysis/gemini.js'),
    ]);
    const log = this.rootLog.child({ component: 'analysis' });
    const key = this.credentials.geminiApiKey;
    this.analysis = new AnalysisQueue({
      db: core.store,
      bus: this.bus,
      log,
      config: () => this.config,
      archives: this.archives,
      // Synchronous on purpose: the outbox row and the job's done mark share one transaction.
      publish: (result) => publisher.publishAnalysis(result),
      publishBudget: (budget) => void publisher.publishBudget(budget),
      index: core.search,
      model: key
        ? new GeminiClient({ apiKey: key, model: config.analysis.model, baseUrl: config.analysis.baseUrl, log })
        : null,
      resultPathFor: analysisPathFor,
      motion: this.motion,
    });
    await this.analysis.start();
  }

  private async stopAnalysis(): Promise<void> {
    const analysis = this.analysis;
    this.analysis = null;
    await analysis?.stop();
  }

  private async startHttp(core: Core): Promise<void> {
    this.http = new HttpServer({
      config: () => this.config,
      log: this.rootLog.child({ component: 'http' }),
      pipeline: this.pipeline,
      archives: this.archives,
      health: core.health,
      token: this.credentials.httpToken,
      metrics: () => core.metrics.scrape(),
      search: core.search,
      ...(this.config.http.liveView ? { live: this.live } : {}),
      status: async () => ({
        device: this.config.device.id,
        version: VERSION,
        startedAt: this.startedAt.toISOString(),
        uptime: Math.round(process.uptime()),
        mqtt: this.link?.status() ?? null,
      }),
    });
    await this.http.start();
  }

  private async stopHttp(): Promise<void> {
    const http = this.http;
    this.http = null;
    await http?.stop();
  }
}

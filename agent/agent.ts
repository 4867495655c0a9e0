import { mkdir, readFile } from 'node:fs/promises';
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
import { PipelineManager } from './pipeline/manager.js';
import { withAllowLists } from './pipeline/sourcePolicy.js';
import { CameraSupervisor } from './pipeline/supervisor.js';
import { KeyValue, SeenSignatures } from './store/kv.js';
import { openStore, type Store } from './store/store.js';
import { EventBus } from './util/bus.js';
import { isClockSynced } from './util/clockSync.js';
import { removeStaleTemps } from './util/files.js';
import type { Logger } from './util/logger.js';
import { VERSION } from './version.js';
import { ConfigService } from './configService.js';
import { createUpdateModule, type UpdateModule } from './update/index.js';
import type { DesiredReleaseMemory } from './update/updates.js';

/** How often retention looks at the disk besides after every finished archive. */
const RETENTION_INTERVAL_MS = 60_000;

/**
 * The running agent: every module, built from one config. Only this file and main.ts construct
 * modules; a config change rebuilds only the modules whose slice changed.
 */
export class Agent {
  readonly bus = new EventBus();
  readonly startedAt = new Date();
  readonly archives: DiskArchiveCatalog;
  private board!: BoardInfo;
  private credentials: Credentials;
  private manager: PipelineManager | null = null;
  private retention: Retention | null = null;
  private retentionOff: (() => void) | null = null;
  private recordingHoursLeft: number | null = null;
  private store: Store | null = null;
  private kv: KeyValue | null = null;
  private announced: AnnouncedArchives | null = null;
  private desired: DesiredConfig | null = null;
  private unrecoverable: ((reason: string) => void) | null = null;
  private outbox: Outbox | null = null;
  private link: MqttLink | null = null;
  private publisher: LinkPublisher | null = null;
  private http: HttpServer | null = null;
  private health: HealthCollector | null = null;
  private analysis: AnalysisQueue | null = null;
  private metrics: AgentMetrics | null = null;
  private homeAssistant: HomeAssistantDiscovery | null = null;
  private search: SearchIndex | null = null;
  private update: UpdateModule | null = null;
  // Motion meters outlive pipeline restarts; each FFmpeg run feeds its camera's meter.
  private readonly motion = new MotionMeters();
  // Likewise the live view's relays: the pipelines attach each run, the server subscribes viewers,
  // and either can be rebuilt by a config change without the other.
  private readonly live: LiveRelays;
  readonly configService: ConfigService;
  readonly log: Logger;

  /** PipelineControl that stays valid while the pipeline itself is rebuilt on a config change. */
  readonly pipeline: PipelineControl = {
    stats: () => this.manager?.stats() ?? [],
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
    this.archives = new DiskArchiveCatalog(config.archive.dir);
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

  /** Builds and starts every module. */
  async start(): Promise<void> {
    const { config, log } = this;
    for (const dir of [config.dataDir, config.archive.dir, config.hls.dir]) await mkdir(dir, { recursive: true });
    // A kill during a set-config write can leave the temp file of its atomic write behind.
    if (this.configFile) await removeStaleTemps(this.configFile);
    this.board = await detectBoard(hostRoot());
    log.info({ board: this.board.model, family: this.board.family }, 'board detected');
    // Start-up order (README "Start-up"): the bus holds every event until the outbox publisher,
    // the analysis queue and retention are all attached, so the archives recovered by the
    // pipeline's start, and retention's first pass, are announced, queued and protected like any.
    this.bus.hold();
    try {
      this.startStoreAndOutbox();
      this.startRetention();
      await this.startPipeline();
      await this.startLink();
      await this.startAnalysis();
      await this.startHttp();
    } finally {
      this.bus.release();
    }
    await this.catchUp();
    log.info({ hls: config.hls.dir, archive: config.archive.dir, cameras: config.cameras.map((c) => c.id) }, 'agent running');
    this.configService.open();
    // Step 11 (README "Start-up"): the release an update just switched to checks its own health.
    await this.update?.gate.start();
  }

  /**
   * Start-up step 9 (README "Start-up"): announces the finished archives a crash left
   * unannounced. After the bus is released, so every archive recovered in step 5 is in the ledger
   * already; an archive found twice (its pipeline announcing it meanwhile) is still sent once.
   */
  private async catchUp(): Promise<void> {
    const announced = this.announced!;
    try {
      announced.prune();
      const found = await unannouncedArchives(this.config.archive.dir, { since: announced.since(), now: Date.now(), announced: (file) => announced.has(file) });
      for (const { type, payload } of found) {
        this.log.warn({ file: payload.file, event: type }, 'archive was never announced; announcing it now');
        this.bus.emit(type, payload);
      }
    } catch (error) {
      this.log.error({ err: error }, 'start-up catch-up of unannounced archives failed');
    }
  }

  /** Stops every module; the pipelines finish the archives being written, offline is published. */
  async stop(): Promise<void> {
    // A change in progress is cut short and reverted before the modules it touches are stopped.
    await this.configService.close();
    await this.update?.gate.stop();
    this.update?.updates.stop();
    await this.http?.stop().catch((error: unknown) => this.log.warn({ err: error }, 'http stop failed'));
    await this.manager?.stop();
    await this.analysis?.stop().catch((error: unknown) => this.log.warn({ err: error }, 'analysis stop failed'));
    this.stopRetention();
    this.publisher?.stop();
    await this.homeAssistant?.stop();
    await this.link?.stop().catch((error: unknown) => this.log.warn({ err: error }, 'mqtt stop failed'));
    this.outbox?.stop();
    this.metrics?.stop();
    this.store?.close();
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

  /** Applies a validated new config, restarting only the modules (and cameras) it touches. */
  private async reconfigure(next: AgentConfig, plan: ChangePlan): Promise<void> {
    // Events of the modules restarted below wait for their consumers to be back (see start()).
    this.bus.hold();
    try {
      await this.applyPlan(next, plan);
    } finally {
      this.bus.release();
    }
  }

  private async applyPlan(next: AgentConfig, plan: ChangePlan): Promise<void> {
    const { modules, cameras } = plan;
    this.config = next;
    this.credentials = loadCredentials(next);
    if (modules.has('device') || (modules.has('pipeline') && cameras === 'all')) {
      await this.manager?.stop();
      await this.startPipeline();
    } else if (modules.has('pipeline') && this.manager && cameras !== 'all') {
      const byId = new Map(next.cameras.map((c) => [c.id, c]));
      await this.manager.replace(
        cameras,
        async (id) => {
          const camera = byId.get(id);
          return camera ? this.makeSupervisor(camera) : null;
        },
        next.cameras.map((c) => c.id),
      );
    }
    if (modules.has('health')) this.publisher?.reschedule();
    if (modules.has('archive')) {
      this.stopRetention();
      this.startRetention();
    }
    if (modules.has('mqtt')) {
      await this.link?.stop();
      await this.link?.start();
    }
    if (modules.has('analysis')) {
      await this.analysis?.stop();
      await this.startAnalysis();
    }
    if (modules.has('http')) {
      await this.http?.stop();
      await this.startHttp();
    }
  }

  private async startPipeline(): Promise<void> {
    const supervisors = new Map<string, CameraSupervisor>();
    for (const camera of this.config.cameras) supervisors.set(camera.id, await this.makeSupervisor(camera));
    this.manager = new PipelineManager(supervisors);
    await this.manager.start();
  }

  private async makeSupervisor(camera: CameraConfig): Promise<CameraSupervisor> {
    const log = this.rootLog.child({ component: 'pipeline', camera: camera.id });
    const encoders = await this.encodersFor(camera);
    log.info({ encoders: encoders.map((e) => e.name) }, 'encoder ladder');
    return new CameraSupervisor({
      camera,
      config: this.config,
      bus: this.bus,
      log,
      encoders,
      resolveCapture: (cam, encoder) => this.resolveCapture(cam, encoder),
      clockSynced: isClockSynced,
      // The tiny grey frame branch (4 fps) feeds the motion gate; only worth it when analysing.
      ...(this.config.analysis.enabled ? { motion: this.motion.forCamera(camera) } : {}),
      ...(this.config.http.liveView ? { live: this.live.forCamera(camera.id) } : {}),
    });
  }

  /** The camera's encoder ladder, hardware candidates proven by a cached test encode. */
  private encodersFor(camera: CameraConfig): Promise<EncoderCandidate[]> {
    const settings = { width: camera.width, height: camera.height, fps: camera.fps, bitrateKbps: this.config.encoder.bitrateKbps, keyframeSeconds: this.config.hls.segmentSeconds };
    return planEncoders(
      this.config,
      this.board,
      async (candidates) => (await chooseEncoders(candidates, settings, this.board, { cacheFile: path.join(this.config.dataDir, 'encoder-probe.json') })).working,
      (board) => candidatesForSource(encoderLadder(board), camera.source),
    );
  }

  private async resolveCapture(camera: CameraConfig, encoder: EncoderCandidate) {
    // Enumerated at every start, so a camera plugged in later is found by `auto`.
    const cameras = camera.source === 'test' ? [] : await listCameras().catch(() => []);
    const capture = captureInput(camera.source, camera, encoder, this.board, cameras, {
      bitrateKbps: this.config.encoder.bitrateKbps,
      keyframeSeconds: this.config.hls.segmentSeconds,
    });
    return withAllowLists(camera.source, capture);
  }

  private startRetention(): void {
    const { config } = this;
    const retention = new Retention({
      archiveRoot: config.archive.dir,
      maxAgeHours: config.archive.maxAgeHours,
      minFreePercent: config.archive.minFreePercent,
      bus: this.bus,
      log: this.rootLog.child({ component: 'retention' }),
      isPendingAnalysis: (file) => this.analysis?.isPending(file) ?? false,
    });
    this.retention = retention;
    const enforce = () =>
      void retention
        .enforce()
        .then(() => retention.hoursLeft())
        .then((hours) => {
          this.recordingHoursLeft = hours === null ? null : Math.round(hours * 10) / 10;
        })
        .catch((error: unknown) => this.log.error({ err: error }, 'retention failed'));
    const offs = [this.bus.on('archive.finished', enforce), this.bus.on('archive.recovered', enforce)];
    const timer = setInterval(enforce, RETENTION_INTERVAL_MS);
    this.retentionOff = () => {
      for (const off of offs) off();
      clearInterval(timer);
    };
    enforce();
  }

  private stopRetention(): void {
    this.retentionOff?.();
    this.retentionOff = null;
  }

  private startStoreAndOutbox(): void {
    this.store = openStore(this.config.dataDir);
    this.kv = new KeyValue(this.store);
    this.announced = new AnnouncedArchives(this.store);
    this.outbox = new Outbox({ db: this.store, log: this.rootLog.child({ component: 'outbox' }) });
    this.outbox.start();
    // Searchable whether or not analysis runs now; a hit must play, so a pruned archive leaves it.
    const search = new SearchIndex(this.store);
    search.init();
    this.search = search;
    this.bus.on('disk.pruned', (e) => search.remove(e.file));
    this.health = new HealthCollector({
      config: this.config,
      pipeline: this.pipeline,
      sensors: new Sensors({ sysRoot: path.join(hostRoot(), 'sys') }),
      extra: () => ({
        outbox: this.outbox?.stats(),
        // Hours of recording the free space above archive.minFreePercent still holds.
        recordingHoursLeft: this.recordingHoursLeft,
        mqtt: this.link?.status() ?? null,
        analysis: this.analysis?.stats() ?? null,
      }),
    });
    const health = this.health;
    this.metrics ??= new AgentMetrics({ bus: this.bus, health: () => health.snapshot() });
    this.metrics.start();
  }

  private async startLink(): Promise<void> {
    const log = this.rootLog.child({ component: 'mqtt' });
    const commands = createCommands({
      version: VERSION,
      startedAt: this.startedAt.toISOString(),
      config: this.configService,
      redact: redactConfig,
      pipeline: this.pipeline,
      archives: this.archives,
      analysis: {
        enqueue: (camera, file) =>
          this.analysis ? this.analysis.enqueue(camera, file) : Promise.reject(new AgentError('bad_request', 'analysis is disabled (analysis.enabled is false)')),
      },
      probe: () => probeReport({ config: this.config, cacheFile: path.join(this.config.dataDir, 'encoder-probe.json') }),
      search: this.search!,
      updates: { request: (body) => this.update!.control.request(body) },
    });
    const verifier = new SignatureVerifier({
      key: () => this.credentials.commandKey,
      deviceId: () => this.config.device.id,
      requireScoped: () => this.config.mqtt.requireScopedSignatures,
      persist: new SeenSignatures(this.store!),
    });
    const router = new CommandRouter({
      commands,
      log,
      verifier,
      replyTopicAllowed: (topic) => isSafeReplyTopic(buildTopics(this.config.mqtt.topicPrefix, this.config.device.id), topic),
    });
    const kv = this.kv!;
    this.update = createUpdateModule({
      version: VERSION,
      configFile: this.configFile,
      dataDir: () => this.config.dataDir,
      stats: () => this.pipeline.stats(),
      hlsDir: (camera) => this.pipeline.hlsDir(camera),
      mqttConnected: () => this.link?.isConnected() ?? false,
      roundTrip: () => this.link?.roundTrip() ?? Promise.resolve('the mqtt link is not running'),
      publish: (message) => void this.publisher?.publishRelease(message),
      memory: { load: () => kv.get<DesiredReleaseMemory>('release.desired'), save: (value) => kv.set('release.desired', value) },
      signingRequired: () => this.credentials.commandKey !== null,
      desiredSigned: (doc) => verifier.verifyDocument('release/desired', doc, buildTopics(this.config.mqtt.topicPrefix, this.config.device.id).releaseDesired),
      startedAt: this.startedAt.getTime(),
      log: this.rootLog.child({ component: 'update' }),
    });
    const updates = this.update.updates;
    this.desired = new DesiredConfig({
      change: (request) => this.configService.change(request),
      load: () => kv.get<DesiredState>('config.desired'),
      save: (state) => kv.set('config.desired', state),
      report: (message) => void this.publisher?.publishReported(message),
      config: () => redactConfig(this.config),
      signed: (doc) => verifier.verifyDocument('config/desired', doc, buildTopics(this.config.mqtt.topicPrefix, this.config.device.id).configDesired),
      log: this.rootLog.child({ component: 'config' }),
    });
    const desired = this.desired;
    this.link = new MqttLink({
      config: () => this.config,
      password: () => this.credentials.mqttPassword,
      log,
      version: VERSION,
      startedAt: this.startedAt.toISOString(),
      outbox: this.outbox!,
      router,
      nextSession: () => kv.next('mqtt.session'),
      onDesired: (payload) => desired.handle(payload),
      onReleaseDesired: (payload) => updates.handleDesired(payload),
    });
    this.publisher = new LinkPublisher({
      link: this.link,
      outbox: this.outbox!,
      announced: this.announced!,
      bus: this.bus,
      health: this.health!,
      config: () => this.config,
      redact: redactConfig,
      log,
      motionScore: (camera, startMs, endMs) => motionScore(this.motion.timelineFor(camera, startMs, endMs)),
    });
    this.publisher.start();
    await updates.start();
    const memory = { load: () => kv.get<PublishedDiscovery>('homeassistant.published'), save: (state: PublishedDiscovery | null) => kv.set('homeassistant.published', state) };
    this.homeAssistant = new HomeAssistantDiscovery({ link: this.link, pipeline: this.pipeline, config: () => this.config, bus: this.bus, version: VERSION, log, memory });
    this.homeAssistant.start();
    await this.link.start();
  }

  private async startAnalysis(): Promise<void> {
    const { config } = this;
    this.analysis = null;
    // Loaded only when wanted: @google/genai alone costs a board ~20 MB of memory.
    if (!config.analysis.enabled) return;
    const [{ AnalysisQueue }, { GeminiClient }] = await Promise.all([import('./analysis/queue.js'), import('./analysis/gemini.js')]);
    const log = this.rootLog.child({ component: 'analysis' });
    const key = this.credentials.geminiApiKey;
    this.analysis = new AnalysisQueue({
      db: this.store!,
      bus: this.bus,
      log,
      config,
      archives: this.archives,
      // Synchronous on purpose: the outbox row and the job's done mark share one transaction.
      publish: (result) => this.publisher!.publishAnalysis(result),
      publishBudget: (budget) => void this.publisher?.publishBudget(budget),
      index: this.search!,
      model: key ? new GeminiClient({ apiKey: key, model: config.analysis.model, baseUrl: config.analysis.baseUrl, log }) : null,
      resultPathFor: analysisPathFor,
      motion: this.motion,
    });
    await this.analysis.start();
  }

  private async startHttp(): Promise<void> {
    this.http = new HttpServer({
      config: this.config,
      log: this.rootLog.child({ component: 'http' }),
      pipeline: this.pipeline,
      archives: this.archives,
      health: this.health!,
      token: this.credentials.httpToken,
      metrics: () => this.metrics!.scrape(),
      search: this.search!,
      ...(this.config.http.liveView ? { live: this.live } : {}),
      status: async () => ({
        device: this.config.device.id,
        version: VERSION,
        startedAt: this.startedAt.toISOString(),
        uptime: Math.round(process.uptime()),
        mqtt: this.link?.status() ?? null,
      }),
      analysisFor: (file) =>
        readFile(analysisPathFor(path.join(this.config.archive.dir, file)), 'utf8')
          .then((text) => JSON.parse(text) as object)
          .catch(() => null),
    });
    await this.http.start();
  }
}

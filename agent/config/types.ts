/** The effective configuration, as the contract (shared/docs/contract.md) defines it. */

/** How finely the model looks at each frame: Gemini's `mediaResolution` (LOW, MEDIUM, HIGH). */
export type AnalysisResolution = 'low' | 'medium' | 'high';

/** The cost levers of analysis, set for all cameras under `analysis` and per camera under `cameras[i].analysis`. */
export interface AnalysisCostConfig {
  /** Frames per second the model samples (Gemini's `videoMetadata.fps`); the proxy carries exactly these. */
  fps: number;
  resolution: AnalysisResolution;
  /** Skip a still clip whose scene matches the last clip of that camera the model analysed. */
  skipDuplicates: boolean;
  /** A clip in which more than this fraction of the picture changed clearly (motion.ts changedFraction) is never a duplicate. */
  duplicateMotion: number;
  /** Largest scene-signature distance (changed neighbour comparisons of 256, scene.ts) still counted as the same scene. */
  duplicateDistance: number;
}

/** One camera: where frames come from and the size and rate wanted. */
export interface CameraConfig {
  id: string;
  /** `auto`, `test`, `v4l2:/dev/videoN`, `csi`, `csi:N`, or an rtsp/http(s)/file URL. */
  source: string;
  width: number;
  height: number;
  fps: number;
  /** This camera's own cost levers; the keys it leaves out follow `analysis.*`. */
  analysis?: Partial<AnalysisCostConfig>;
}

export interface EncoderConfig {
  /** `auto` (the board's probed ladder) or FFmpeg encoder names, best first. */
  prefer: 'auto' | string[];
  bitrateKbps: number;
}

export interface HlsConfig {
  dir: string;
  segmentSeconds: number;
  listSize: number;
}

export interface ArchiveConfig {
  dir: string;
  segmentSeconds: number;
  maxAgeHours: number;
  minFreePercent: number;
}

export interface MqttConfig {
  url: string;
  topicPrefix: string;
  healthIntervalSeconds: number;
  /** Seconds a remote change has to pass its health check before it is reverted. */
  configGateSeconds: number;
  username: string | null;
  passwordFile: string | null;
  ca: string | null;
  cert: string | null;
  key: string | null;
  commandKeyFile: string | null;
  /** Only the v2 signed form (device id and topic covered) is valid. */
  requireScopedSignatures: boolean;
  /** A password may cross plain-text mqtt:// or ws:// to a host off loopback. */
  allowInsecure: boolean;
  /** Without a command key, unsigned remote changes may touch the signed-only keys (the old behaviour). */
  unsignedSensitiveChanges: boolean;
  /**
   * Home Assistant MQTT discovery (agent/link/homeAssistant.ts). The schema always fills it in;
   * optional so configs built by hand (tests) need not.
   */
  homeAssistant?: { enabled: boolean; snapshotSeconds: number };
}

export interface AnalysisConfig extends AnalysisCostConfig {
  enabled: boolean;
  provider: 'gemini';
  model: string;
  apiKeyFile: string | null;
  baseUrl: string | null;
  /** The API key may cross a plain-text http:// baseUrl to a host off loopback. */
  allowInsecure: boolean;
  prompt: string | null;
  maxPerDay: number;
  skipWhenStill: boolean;
  /** Minutes without a result before `analysis.deferred` is published. */
  deferAfterMinutes: number;
  /** Daily token budget (null or 0: none); EDGE_AGENT_ANALYSIS_DAILY_TOKENS overrides it. */
  dailyTokens: number | null;
  /** Daily generateContent request budget (null or 0: none). */
  dailyRequests: number | null;
}

export interface HttpConfig {
  listen: string;
  tokenFile: string | null;
  /** Host names besides loopback, the board's own name and addresses that requests may carry in Host. */
  allowedHosts: string[];
  /** Whether FFmpeg also writes fragmented MP4 for /live/<camera id> (the page's low-latency view). */
  liveView: boolean;
}

export interface AgentConfig {
  device: { id: string };
  cameras: CameraConfig[];
  encoder: EncoderConfig;
  hls: HlsConfig;
  archive: ArchiveConfig;
  mqtt: MqttConfig;
  analysis: AnalysisConfig;
  http: HttpConfig;
  dataDir: string;
}

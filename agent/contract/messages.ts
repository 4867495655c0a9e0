/** The payload of every MQTT topic the agent publishes or reads: one typed topic → payload map. */
import type { AgentEvent } from './events.js';

/** `R/status`, retained; the will carries the same shape with `state: "offline"`. */
export interface StatusMessage {
  state: 'online' | 'offline';
  version: string;
  startedAt: string;
  /** Increases at every connect; a will whose session is older than the last online is stale. */
  session: number;
  ts: string;
}

/** `R/events`: a bus event plus the stable outbox `id` consumers dedupe on. */
export type EventMessage = AgentEvent & { id: string };

/** One event Gemini found inside an archive. */
export interface AnalysisFinding {
  start: string;
  end: string;
  label: string;
  description: string;
  severity: string;
}

/** `R/analysis`: one per analysed archive (what the analysis module hands to `publishAnalysis`). */
export interface AnalysisResult {
  camera: string;
  archive: string;
  start: string;
  end: string;
  model: string;
  summary: string;
  events: AnalysisFinding[];
  motion?: unknown;
  usage?: unknown;
  /** The `id` of the archive's `archive.finished` / `archive.recovered` event. */
  eventId?: string;
  ts: string;
}

/** `R/analysis/budget`, retained: today's use of the daily analysis budget (UTC day). */
export interface AnalysisBudgetMessage {
  tokensUsed: number;
  /** null: no token limit. */
  tokenLimit: number | null;
  requestsUsed: number;
  /** null: no request limit. */
  requestLimit: number | null;
  /** When the counts start again (the next UTC midnight, ISO). */
  resetsAt: string;
  /** Archives waiting for analysis. */
  queued: number;
  ts: string;
}

/** `R/analysis` as sent: the result plus the outbox `id`. */
export type AnalysisMessage = AnalysisResult & { id: string };

/** Outbox figures that go into every health report. */
export interface OutboxStats {
  depth: number;
  dropped: number;
}

/** `R/health`, retained, QoS 0: the health collector's snapshot plus outbox figures. */
export type HealthMessage = Record<string, unknown> & { outbox: OutboxStats; ts: string };

/** `R/config`, retained: the effective config with secrets redacted. */
export type ConfigMessage = Record<string, unknown>;

/** `R/config/desired`, retained, written by the back end. `sig` signs it when a command key is configured. */
export interface DesiredConfigMessage {
  version: number;
  set: Record<string, unknown>;
  sig?: string;
}

/** `R/config/reported`, retained: how the agent handled the last desired document. */
export interface ReportedConfigMessage {
  version: number | null;
  status: 'applied' | 'rejected' | 'reverted' | 'stale';
  code: 200 | 400 | 409 | 500;
  message: string;
  config: unknown;
  ts: string;
}

/** Where an update is (README "Updates"); `done`, `rolled-back` and `failed` are final. */
export type UpdateState =
  'downloading' | 'verifying' | 'switching' | 'verifying-health' | 'done' | 'rolled-back' | 'failed';

/** `R/release`, retained: the release running, the one before it, and the last update. */
export interface ReleaseMessage {
  running: string;
  previous: string | null;
  update: { state: UpdateState; version: string | null; reason: string | null } | null;
  ts: string;
}

/** The `update` command's body, also retained on `R/release/desired`. */
export interface UpdateRequestMessage {
  manifest: { arch: string; sha256: string; size: number; version: string };
  /** Hex Ed25519 signature of the manifest; `releaseSig` when `sig` carries a command signature. */
  sig?: string;
  releaseSig?: string;
  url: string;
}

/** The error half of a command reply. */
export interface ReplyError {
  code: string;
  message: string;
}

/** Every command reply; `id` is echoed when the request carried one (the 3.1.1 form). */
export type CommandReply = { ok: true; result: unknown; id?: unknown } | { ok: false; error: ReplyError; id?: unknown };

/** A command request body: a JSON object; `replyTo`, `id`, `ts` and `sig` are envelope fields. */
export type CommandRequest = Record<string, unknown>;

/** One component of the Home Assistant device payload: its platform and HA options. */
export type HomeAssistantComponent = { platform: string } & Record<string, unknown>;

/** `homeassistant/device/<object id>/config`, retained: HA's single-payload device discovery. */
export interface HomeAssistantDiscoveryMessage {
  device: { identifiers: string[]; name: string; manufacturer: string; model: string; sw_version: string };
  origin: { name: string; sw_version: string; support_url?: string };
  availability: Array<{
    topic: string;
    value_template: string;
    payload_available: string;
    payload_not_available: string;
  }>;
  components: Record<string, HomeAssistantComponent>;
}

/** Topic kind → payload type. */
export interface TopicPayloads {
  status: StatusMessage;
  health: HealthMessage;
  events: EventMessage;
  analysis: AnalysisMessage;
  analysisBudget: AnalysisBudgetMessage;
  config: ConfigMessage;
  configDesired: DesiredConfigMessage;
  configReported: ReportedConfigMessage;
  release: ReleaseMessage;
  releaseDesired: UpdateRequestMessage;
  command: CommandRequest;
  reply: CommandReply;
  /** `R/snapshot/<camera>`, retained: JPEG bytes for the camera's Home Assistant entity. */
  snapshot: Buffer;
  homeAssistantDiscovery: HomeAssistantDiscoveryMessage;
}

/** The topics whose messages go through the durable outbox. */
export type DurableTopicKind = 'events' | 'analysis';

/**
 * A durable message as handed to the outbox: the topic's payload whose `id` the outbox assigns
 * unless the message brings its own (an archive event's stable id). Distributes over the event
 * union so each event type keeps its own fields.
 */
export type Unsent<T> = T extends { id: string } ? Omit<T, 'id'> & { id?: string } : never;

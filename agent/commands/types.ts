/** The powers command handlers get, as narrow interfaces main.ts implements. */
import type { AgentConfig } from '../config/types.js';
import type { SearchService } from '../contract/search.js';
import type { ArchiveCatalog, PipelineControl } from '../contract/services.js';
import type { Clock } from '../util/clock.js';

/** Read and change the effective config. */
export interface ConfigControl {
  current(): AgentConfig;
  /**
   * Validates the whole new config, applies it restarting only what it touches, checks the
   * agent's health and only then persists it; throws AgentError when it was refused or reverted.
   */
  set(sets: Record<string, unknown>, options?: { signed?: boolean }): Promise<{ changed: string[] }>;
}

/** Queue an archive for analysis. */
export interface AnalysisControl {
  enqueue(camera: string, file: string): Promise<void>;
}

/** The update command's body (checked strictly by the update module, which owns the rules). */
export type UpdateArgs = Record<string, unknown>;

/** Hand a release to the root updater (agent/update). */
export interface UpdateControl {
  /** Checks the body and the release signature, queues the update; throws AgentError when refused. */
  request(body: UpdateArgs): Promise<{ accepted: true; version: string; attempt: string }>;
}

/** Everything the command handlers need. */
export interface CommandDeps {
  version: string;
  /** When the agent started (ISO). */
  startedAt: string;
  config: ConfigControl;
  /** The config with secrets redacted (the config module's redactConfig). */
  redact: (config: AgentConfig) => unknown;
  pipeline: PipelineControl;
  archives: ArchiveCatalog;
  /** Absent when analysis is off. */
  analysis?: AnalysisControl;
  /** What `edge-agent probe --json` prints. */
  probe: () => Promise<unknown>;
  /** The analysis search index; absent: `search` answers bad_request. */
  search?: SearchService;
  /** Absent: `update` answers unsupported. */
  updates?: UpdateControl;
  clock?: Clock;
}

/** What the router knows about a request besides its body. */
export interface CommandContext {
  /** A command key is configured and this request's signature was verified. */
  signed: boolean;
}

/** One command: a strict body check, then the handler. Both throw AgentError. */
export interface CommandSpec<T = unknown> {
  /**
   * The body has a `sig` field of its own (update: the release signature). The router passes it
   * on when no command key is configured; with one, `sig` is the command signature and stays out.
   */
  keepsSig?: boolean;
  /** Checks the body (envelope fields already removed) and returns the typed arguments. */
  parse(body: Record<string, unknown>): T;
  run(args: T, context: CommandContext): Promise<unknown>;
}

/** Command name → its spec: the router's one table. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CommandTable = Record<string, CommandSpec<any>>;

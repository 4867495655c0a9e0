// Types of machine.mjs for the TypeScript tests (the board runs the plain JavaScript).
export interface UpdateSettings {
  gateSeconds: number;
  stableSeconds: number;
  rollbackSeconds: number;
  pollMs: number;
}

export type UpdateStateName =
  'downloading' | 'verifying' | 'switching' | 'verifying-health' | 'done' | 'rolled-back' | 'failed';

export interface ReleaseManifest {
  arch: string;
  sha256: string;
  size: number;
  version: string;
}

/** The updater's state file. */
export interface UpdateStateFile {
  state: UpdateStateName;
  version: string | null;
  reason: string | null;
  attempt: string | null;
  manifest?: ReleaseManifest;
  sig?: string;
  url?: string;
  direction?: 'forward' | 'back';
  from?: string | null;
  fromPrevious?: string | null;
  switchedAt?: number;
  gate?: { cameras: string[]; mqtt: boolean; gateSeconds?: number; stableSeconds?: number; deadline?: number };
  ts?: string;
}

export interface UpdateRequestFile {
  attempt: string;
  manifest: ReleaseManifest;
  sig: string;
  url: string;
  gate?: { cameras: string[]; mqtt: boolean };
}

export interface ServiceStatus {
  MainPID: number;
  NRestarts: number;
  ActiveState: string;
}

/** Everything the steps touch: files, network, the agent's unit (ops.mjs on a board). */
export interface UpdateOps {
  log(line: string): void;
  now(): number;
  sleep(ms: number): Promise<void>;
  failpoint(name: string): void;
  readState(): Promise<UpdateStateFile | null>;
  writeState(state: UpdateStateFile): Promise<void>;
  takeRequest(): Promise<{ request: UpdateRequestFile | null; problem: string | null } | null>;
  removeRequest(): Promise<void>;
  requestProblem(request: unknown): string | null;
  trustedKeys(): Promise<unknown[]>;
  signedByAny(manifest: ReleaseManifest, sig: string, keys: unknown[]): boolean;
  machineArch(): string;
  links(): Promise<{ current: string | null; previous: string | null }>;
  setLinks(links: { current: string | null | undefined; previous: string | null | undefined }): Promise<void>;
  download(url: string, manifest: ReleaseManifest, version: string): Promise<string>;
  checkDownload(file: string, manifest: ReleaseManifest): Promise<string | null>;
  unpack(file: string, manifest: ReleaseManifest): Promise<void>;
  removeHealth(): Promise<void>;
  readHealth(): Promise<{ attempt?: string; state?: string; reason?: string } | null>;
  restart(seconds: number): Promise<{ ok: boolean; message: string }>;
  status(): Promise<ServiceStatus>;
  finish(version: string): Promise<void>;
  discard(version: string, options?: { release?: boolean }): Promise<void>;
}

export const FINAL: Set<string>;
export const DEFAULT_SETTINGS: UpdateSettings;
export function runUpdater(ops: UpdateOps, settings?: Partial<UpdateSettings>): Promise<UpdateStateFile | null>;

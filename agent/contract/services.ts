/**
 * The narrow interfaces feature modules offer each other through main.ts. A consumer depends on
 * these shapes only, never on the module behind them.
 */
import type { AgentError, AgentErrorCode } from './errors.js';

/** A camera pipeline's life stage. */
export type PipelineState = 'starting' | 'running' | 'restarting' | 'failed' | 'stopped';

/** Per-camera figures for R/health, /api/status and /healthz. */
export interface CameraStats {
  camera: string;
  state: PipelineState;
  /** The encoder in use (`libx264`, `h264_v4l2m2m`, `rpicam-h264`, ...), null before the first start. */
  encoder: string | null;
  source: string;
  fps: number;
  droppedFrames: number;
  /** Frames encoded since this camera's supervisor started, over all its FFmpeg runs (a counter). */
  framesTotal?: number;
  /** Frames dropped since this camera's supervisor started, over all its FFmpeg runs (a counter). */
  droppedFramesTotal?: number;
  restarts: number;
  /** Seconds since FFmpeg last reported a new frame; null before the first frame. */
  lastFrameAgeSeconds: number | null;
  /** The current archive's start (ISO), if recording. */
  recordingSince: string | null;
  lastError: string | null;
  /**
   * True while the camera produces frames or its supervisor is actively retrying it (a start, a
   * restart or a frame within the liveness bound): what the systemd watchdog asks of each camera,
   * so one dead camera never gets the whole agent restarted.
   */
  supervised?: boolean;
}

/** What the pipeline module lets others do. */
export interface PipelineControl {
  stats(): CameraStats[];
  /** Restarts the named camera's pipeline, or every one; returns the ids restarted. */
  restart(camera?: string): Promise<string[]>;
  /** A JPEG of the live picture, taken from the HLS stream so the recording is not disturbed. */
  snapshot(camera?: string): Promise<Snapshot>;
  /** The HLS directory of one camera, for the HTTP server. */
  hlsDir(camera: string): string;
}

/** One viewer of the live view (a WebSocket), as the relay sees it. */
export interface LiveClient {
  /** Queues one message (the init segment, or one fragment). */
  send(data: Buffer): void;
  /** Bytes queued and not yet handed to the network: how far behind the viewer is. */
  bufferedBytes(): number;
  close(code: number, reason: string): void;
}

/** A live view client's place in a camera's stream. */
export interface LiveSubscription {
  unsubscribe(): void;
}

/** The live view's fragmented MP4 per camera, for the HTTP server. */
export interface LiveSource {
  /** Adds a client to a camera's stream; null when the camera has its fill of clients. */
  subscribe(camera: string, client: LiveClient): LiveSubscription | null;
}

export interface Snapshot {
  camera: string;
  jpeg: Buffer;
  width: number;
  height: number;
  ts: string;
}

/** One finished archive as listed to users. */
export interface ArchiveEntry {
  camera: string;
  /** Relative to `archive.dir`: `<camera>/<YYYY-MM-DD>/archive_<stamp>.mp4`. */
  file: string;
  start: string;
  seconds: number;
  bytes: number;
  analysed: boolean;
  clockSynced: boolean;
}

/** Read access to the archive tree. */
export interface ArchiveCatalog {
  /** Finished archives, newest first. */
  list(query: { camera?: string; limit?: number }): Promise<ArchiveEntry[]>;
  /** Absolute path of an archive given its relative name, or null if outside `archive.dir` or absent. */
  resolve(file: string): Promise<string | null>;
  /** The analysis result saved beside an archive (its `.analysis.json`), or null if none or unreadable. */
  analysis(file: string): Promise<object | null>;
}

/** One config change, from set-config or R/config/desired. */
export interface ChangeRequest {
  sets: Record<string, unknown>;
  /** The request carried a valid signature (sensitive keys need one when a command key is configured). */
  signed: boolean;
  /** Where it came from, for the log. */
  origin: string;
}

/** How a change ended: the status and code R/config/reported carries. */
export interface ChangeOutcome {
  status: 'applied' | 'rejected' | 'reverted';
  code: 200 | 400 | 500;
  message: string;
  changed: string[];
  errorCode?: AgentErrorCode;
  error?: AgentError;
  /** The agent began stopping during the health check: reverted, but no verdict on the change. */
  interrupted?: boolean;
}

/** Payloads of the in-process events; the MQTT link publishes them on R/events as `{type, ...payload, ts}`. */

export interface ArchiveInfo {
  camera: string;
  /** Path relative to `archive.dir`: `<camera>/<YYYY-MM-DD>/archive_<stamp>.mp4`. */
  file: string;
  /** ISO-8601 UTC time of the first frame. */
  start: string;
  seconds: number;
  bytes: number;
  /** False when the board's clock was not NTP-synchronised while it was recorded. */
  clockSynced: boolean;
  /** Seconds the finisher took to make this MP4 from the recording (remux, fsync, rename); absent when not measured (start-up catch-up). */
  finishSeconds?: number;
  /**
   * archive.recovered only: seconds between the end of what was recovered and the recording's last
   * write on disk (the partial's mtime). A lower bound of the loss: what never reached the disk is not seen.
   */
  lostSeconds?: number;
  /**
   * The archive's motion score (0..1, its largest per-second score), when the motion meter saw
   * enough of it; added by the publisher from the meter, so the event never waits for analysis.
   */
  motion?: number;
}

/** Why an archive's analysis result is late (`analysis.deferred`). */
export type DeferReason = 'quota' | 'offline' | 'error' | 'budget';

/** Every event type and its payload (without `type` and `ts`, which the bus adds). */
export interface AgentEvents {
  'pipeline.started': { camera: string; encoder: string; source: string; pid: number };
  'pipeline.restarted': { camera: string; reason: string; restarts: number; delaySeconds: number };
  'encoder.fallback': { camera: string; from: string; to: string; reason: string };
  'camera.lost': { camera: string; source: string; reason: string };
  'camera.found': { camera: string; source: string };
  'archive.finished': ArchiveInfo;
  'archive.recovered': ArchiveInfo & { reason: string };
  'disk.pruned': { camera: string; file: string; bytes: number; reason: 'age' | 'space' };
  'analysis.failed': { camera: string; archive: string; reason: string };
  /**
   * An archive not sent for analysis: `analysis.skipWhenStill` and no motion in it, `retention`
   * (deleted first), or `duplicate`: still, and only `distance` of the 256 comparisons of its
   * scene signature changed from that of `sameAs`, the last archive of that camera the model
   * analysed.
   */
  'analysis.skipped': { camera: string; archive: string; reason: string; distance?: number; sameAs?: string };
  /**
   * No result yet `analysis.deferAfterMinutes` after the archive was queued; the result still
   * follows when it comes. `eventId` is the archive event's `id`.
   */
  'analysis.deferred': { camera: string; archive: string; eventId: string; reason: DeferReason };
  'config.changed': { keys: string[] };
  /** A config change that failed its health check and was undone; the file was never written. */
  'config.reverted': { keys: string[]; reason: string };
}

export type AgentEventType = keyof AgentEvents;

/** An event as delivered: its type, payload and the ISO time it happened. */
export type AgentEvent<K extends AgentEventType = AgentEventType> = { type: K; ts: string } & AgentEvents[K];

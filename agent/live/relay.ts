/**
 * The live view's relay: each camera's FFmpeg run writes fragmented MP4 to a pipe; the relay keeps
 * the init segment and the fragments since the last keyframe, and hands every fragment to the
 * clients as it arrives. A client that joins late gets the init segment, then the current group of
 * pictures from its keyframe, then the live fragments. A client that cannot keep up is dropped:
 * a live view seconds behind helps nobody, and its backlog would grow without bound.
 */
import type { LiveClient, LiveSource, LiveSubscription } from '../contract/services.js';
import type { Logger } from '../util/logger.js';
import { Fmp4Splitter, type Fmp4Piece } from './fmp4.js';

/** WebSocket close codes the page acts on (RFC 6455 registry): reconnect, or give up for now. */
export const CLOSE_RESTARTED = 1012;
export const CLOSE_TOO_SLOW = 1013;

/** Limits of one camera's relay. */
export interface RelayLimits {
  /** A client with more than this queued is dropped (about 6 s of 2.5 Mb/s video by default). */
  maxBufferedBytes: number;
  /** Clients per camera; more are turned away (each costs a copy of the stream's bandwidth). */
  maxClients: number;
  /** A group of pictures larger than this is not kept for late joiners; they wait for the next keyframe. */
  maxGopBytes: number;
}

export const DEFAULT_LIMITS: RelayLimits = {
  maxBufferedBytes: 2 * 1024 * 1024,
  maxClients: 8,
  maxGopBytes: 8 * 1024 * 1024,
};

/** One camera's live stream and its clients. */
export class CameraRelay {
  private init: Buffer | null = null;
  private gop: Buffer[] = [];
  private gopBytes = 0;
  /** Client → whether it has its init segment and a keyframe (is playing live). */
  private readonly clients = new Map<LiveClient, boolean>();
  private stream: NodeJS.ReadableStream | null = null;

  constructor(
    private readonly log: Logger,
    private readonly limits: RelayLimits = DEFAULT_LIMITS,
  ) {}

  /** How many clients are subscribed (for tests and status). */
  get clientCount(): number {
    return this.clients.size;
  }

  /**
   * Takes one FFmpeg run's fragmented MP4. The pipe is always read to its end, whatever happens
   * here: FFmpeg would block on a full pipe and stop the recording with it.
   */
  attach(stream: NodeJS.ReadableStream): void {
    this.restart();
    this.stream = stream;
    const splitter = new Fmp4Splitter();
    let broken = false;
    stream.on('data', (chunk: Buffer) => {
      if (broken || this.stream !== stream) return;
      let pieces: Fmp4Piece[];
      try {
        pieces = splitter.push(chunk);
      } catch (error) {
        broken = true;
        this.log.warn({ err: error }, 'live view stream unreadable; the live view stops until the pipeline restarts');
        return;
      }
      for (const piece of pieces) this.take(piece);
    });
    stream.on('error', () => {}); // The run's end is FFmpeg's exit, which the supervisor reports.
    stream.on('end', () => {
      if (this.stream === stream) this.restart();
    });
  }

  /** Adds a client; null when the camera already has its fill of clients. */
  subscribe(client: LiveClient): LiveSubscription | null {
    if (this.clients.size >= this.limits.maxClients) return null;
    this.clients.set(client, false);
    this.start(client);
    return { unsubscribe: () => void this.clients.delete(client) };
  }

  /** A new run (or none): its clients reconnect and get the new stream's init segment. */
  private restart(): void {
    this.stream = null;
    this.init = null;
    this.gop = [];
    this.gopBytes = 0;
    for (const client of [...this.clients.keys()]) this.drop(client, CLOSE_RESTARTED, 'stream restarted');
  }

  private take(piece: Fmp4Piece): void {
    if (piece.kind === 'init') {
      this.init = piece.data;
      return;
    }
    if (piece.keyframe) {
      this.gop = [];
      this.gopBytes = 0;
    }
    // Only a group that starts on a keyframe is worth keeping: a joiner's decoder starts there.
    if (piece.keyframe || this.gop.length > 0) {
      this.gop.push(piece.data);
      this.gopBytes += piece.data.length;
      if (this.gopBytes > this.limits.maxGopBytes) {
        this.gop = [];
        this.gopBytes = 0;
      }
    }
    for (const [client, live] of this.clients) {
      if (live) this.send(client, piece.data);
      else this.start(client);
    }
  }

  /** Sends a waiting client the init segment and the group so far, once there is one. */
  private start(client: LiveClient): void {
    if (!this.init || this.gop.length === 0) return;
    this.clients.set(client, true);
    if (!this.send(client, this.init)) return;
    for (const fragment of this.gop) if (!this.send(client, fragment)) return;
  }

  private send(client: LiveClient, data: Buffer): boolean {
    if (client.bufferedBytes() > this.limits.maxBufferedBytes) {
      this.drop(client, CLOSE_TOO_SLOW, 'too slow for the live view');
      return false;
    }
    client.send(data);
    return true;
  }

  private drop(client: LiveClient, code: number, reason: string): void {
    this.clients.delete(client);
    client.close(code, reason);
  }
}

/** Every camera's relay, by camera id: the pipeline attaches runs, the HTTP server subscribes clients. */
export class LiveRelays implements LiveSource {
  private readonly relays = new Map<string, CameraRelay>();

  constructor(
    private readonly log: Logger,
    private readonly limits: RelayLimits = DEFAULT_LIMITS,
  ) {}

  /** The relay of one camera, made on first use. */
  forCamera(camera: string): CameraRelay {
    let relay = this.relays.get(camera);
    if (!relay) {
      relay = new CameraRelay(this.log.child({ camera }), this.limits);
      this.relays.set(camera, relay);
    }
    return relay;
  }

  subscribe(camera: string, client: LiveClient): LiveSubscription | null {
    return this.forCamera(camera).subscribe(client);
  }
}

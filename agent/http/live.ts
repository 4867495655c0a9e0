/**
 * `/live/<camera id>`: the live view's WebSocket (fragmented MP4 for Media Source Extensions).
 * The same rules as every other path: the Host check, then the token or session cookie off
 * loopback; and, since browsers let any site open a WebSocket to any host (no CORS), an Origin
 * that is not this agent's own page is refused even on loopback. The `ws` package is loaded at
 * the first viewer: a board nobody watches never pays for it.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import type { LiveClient, LiveSource } from '../contract/services.js';
import type { Logger } from '../util/logger.js';
import { sameOrigin, type AccessControl, type AccessReply } from './access.js';
import { CAMERA_ID, errorReply } from './api.js';
import { safeSegments } from './files.js';
import { RAW_SECURITY_HEADERS } from './headers.js';

/** The path prefix of the live view. */
export const LIVE_PREFIX = '/live/';

/** What the live endpoint needs from the server. */
export interface LiveEndpointDeps {
  access: AccessControl;
  /** The relays; null when the live view is off (http.liveView false): every camera is then 404. */
  live: LiveSource | null;
  knownCamera: (camera: string) => boolean;
  log: Logger;
  maxUrlChars: number;
}

// Close a dropped client's socket for good if it does not answer the close frame soon.
const CLOSE_GRACE_MS = 2000;

/** The live view's WebSocket endpoint: checks, the upgrade, and one relay client per socket. */
export class LiveEndpoint {
  private wss: WebSocketServer | null = null;

  constructor(private readonly deps: LiveEndpointDeps) {}

  /** The camera a `/live/...` path names, or the error to answer with. */
  private camera(path: string): string | AccessReply {
    const segments = safeSegments(path.slice(LIVE_PREFIX.length));
    if (!segments || segments.length !== 1 || !CAMERA_ID.test(segments[0]!))
      return errorReply(400, 'bad_request', 'bad path');
    const camera = segments[0]!;
    if (!this.deps.live || !this.deps.knownCamera(camera)) return errorReply(404, 'not_found', 'not found');
    return camera;
  }

  /** A plain GET of `/live/<camera>` (the server has already checked access): 426, or the path's error. */
  plain(path: string): AccessReply {
    const camera = this.camera(path);
    if (typeof camera !== 'string') return camera;
    return {
      ...errorReply(426, 'bad_request', 'the live view is a WebSocket: connect with Upgrade: websocket'),
      headers: { Upgrade: 'websocket' },
    };
  }

  /** The server's 'upgrade' event: every check of a request, then the WebSocket, or a refusal. */
  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const refused = this.refusal(req);
    if (typeof refused !== 'string') return refuse(socket, refused);
    const camera = refused;
    const wss = await this.server();
    wss.handleUpgrade(req, socket, head, (ws) => this.serve(ws, camera));
  }

  /** The camera to serve, or why not; the order of the server's own checks (length, Host, access, path). */
  private refusal(req: IncomingMessage): string | AccessReply {
    const url = req.url ?? '/';
    if (url.length > this.deps.maxUrlChars) return errorReply(414, 'bad_request', 'url too long');
    const misdirected = this.deps.access.hostProblem(req);
    if (misdirected) return misdirected;
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    if (!path.startsWith(LIVE_PREFIX)) return errorReply(404, 'not_found', 'not found');
    const access = this.deps.access.check(req);
    if (!access.ok) return access.reply;
    const origin = req.headers.origin;
    if (origin !== undefined && !sameOrigin(origin, req.headers.host))
      return errorReply(403, 'forbidden', 'the live view is only for pages of this agent');
    if (req.method !== 'GET') return errorReply(405, 'bad_request', `method ${req.method} not allowed`);
    return this.camera(path);
  }

  private async server(): Promise<WebSocketServer> {
    if (this.wss) return this.wss;
    const { WebSocketServer: Server } = await import('ws');
    // Viewers send nothing; a big message from one is an attack, not a request.
    this.wss ??= new Server({ noServer: true, maxPayload: 1024, perMessageDeflate: false });
    return this.wss;
  }

  private serve(ws: WebSocket, camera: string): void {
    const client: LiveClient = {
      send: (data) => ws.send(data, { binary: true }),
      bufferedBytes: () => ws.bufferedAmount,
      close: (code, reason) => {
        ws.close(code, reason);
        setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
      },
    };
    const subscription = this.deps.live?.subscribe(camera, client) ?? null;
    if (!subscription) {
      ws.close(1013, 'too many viewers of this camera');
      return;
    }
    this.deps.log.debug({ camera }, 'live viewer joined');
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      subscription.unsubscribe();
      this.deps.log.debug({ camera }, 'live viewer left');
    });
  }
}

/** Answers a refused upgrade on the raw socket, the way the server answers a request. */
function refuse(socket: Duplex, reply: AccessReply): void {
  const body = JSON.stringify(reply.body);
  const headers = Object.entries(reply.headers ?? {})
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? ''}\r\n${RAW_SECURITY_HEADERS}${headers}` +
      `Content-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/**
 * The local HTTP server (contract: HTTP): status page, live HLS, archive downloads, JSON status
 * and /healthz. Loopback by default; anywhere else every request but the page's own files needs
 * the bearer token or the session cookie the page gets for it (access.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import type { AgentConfig } from '../config/types.js';
import { AgentError } from '../contract/errors.js';
import type { SearchService } from '../contract/search.js';
import type { ArchiveCatalog, LiveSource, PipelineControl } from '../contract/services.js';
import type { Logger } from '../util/logger.js';
import { AccessControl, type AccessReply } from './access.js';
import { RAW_SECURITY_HEADERS, SECURITY_HEADERS } from './headers.js';
import { apiArchives, apiStatus, CAMERA_ID, errorReply, healthz } from './api.js';
import { hlsJsDir, PAGE_FILES, webDir } from './assets.js';
import type { HostFacts } from './hosts.js';
import { isLoopback, parseListen } from './listen.js';
import { LIVE_PREFIX, LiveEndpoint } from './live.js';
import { contentTypeFor, fileInside, resolveSegments, safeSegments, sendFile } from './files.js';
import { serveMetrics, type MetricsScrape } from './metrics.js';
import { apiSearch } from './search.js';

/** What the server needs; agent.ts builds it. */
export interface HttpServerDeps {
  /** The running config, read when it is needed (the server restarts when its slice changes). */
  config: () => AgentConfig;
  log: Logger;
  pipeline: PipelineControl;
  archives: ArchiveCatalog;
  health: { snapshot(): Promise<object> };
  /** device, version, uptime, mqtt state and whatever else main wants on /api/status. */
  status: () => Promise<object>;
  /** The contents of `http.tokenFile`, or null; required when `http.listen` is not loopback. */
  token: string | null;
  /** The analysis search index, for /api/search. */
  search?: SearchService;
  /** A frame older than this makes /healthz fail; default 5 s. */
  staleFrameSeconds?: number;
  /** The clock for sessions and the failed-token limit; tests replace it. */
  now?: () => number;
  /** The machine's host name and addresses for the Host check; tests replace them. */
  hostFacts?: HostFacts;
  /** The Prometheus exposition for /metrics (AgentMetrics.scrape); without it /metrics is 404. */
  metrics?: MetricsScrape;
  /** The live view's relays (`/live/<camera id>`); without them the live view is 404 and the page plays HLS. */
  live?: LiveSource;
}

// Node rejects header blocks past maxHeaderSize with 431 itself; a URL that fits but is longer
// than any of ours gets 414, so no handler ever sees a multi-kilobyte path.
const MAX_HEADER_BYTES = 16 * 1024;
const MAX_URL_CHARS = 4096;

/** The page shell and its assets: served without credentials (they hold no data) so the page can ask for the token. */
function isPublic(path: string): boolean {
  return path === '/' || path === '/index.html' || path === '/favicon.ico' || path.startsWith('/static/');
}

/** The HTTP server module: construct with deps, `start()` to listen, `stop()` to close. */
export class HttpServer {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly access: AccessControl;
  private readonly live: LiveEndpoint;

  constructor(private readonly deps: HttpServerDeps) {
    const { host } = parseListen(deps.config().http.listen);
    this.access = new AccessControl({
      listenHost: host,
      token: deps.token,
      allowedHosts: deps.config().http.allowedHosts ?? [],
      ...(deps.now ? { now: deps.now } : {}),
      ...(deps.hostFacts ? { hostFacts: deps.hostFacts } : {}),
    });
    this.live = new LiveEndpoint({
      access: this.access,
      live: deps.live ?? null,
      knownCamera: (camera) => this.knownCamera(camera),
      log: deps.log,
      maxUrlChars: MAX_URL_CHARS,
    });
  }

  /** A camera the pipeline runs or the config names. */
  private knownCamera(camera: string): boolean {
    return (
      this.deps.pipeline.stats().some((c) => c.camera === camera) ||
      this.deps.config().cameras.some((c) => c.id === camera)
    );
  }

  /** The port actually bound (useful with port 0 in tests); null before start. */
  get port(): number | null {
    const address = this.server?.address();
    return address && typeof address === 'object' ? (address as AddressInfo).port : null;
  }

  /** Listens on `http.listen`; refuses to bind off loopback without a token. */
  async start(): Promise<void> {
    const { host, port } = parseListen(this.deps.config().http.listen);
    if (!isLoopback(host) && !this.deps.token) {
      throw new AgentError(
        'config_invalid',
        `http.tokenFile is required when http.listen is not loopback, got ${host}:${port}`,
      );
    }
    const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => void this.handle(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.live.upgrade(req, socket, head).catch((error: unknown) => {
        this.deps.log.warn({ err: error }, 'live view upgrade failed');
        socket.destroy();
      });
    });
    server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
      // Replacing Node's default handler, so answer the way it would; a broken client never reaches a handler.
      const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      if (socket.writable)
        socket.end(`HTTP/1.1 ${status}\r\n${RAW_SECURITY_HEADERS}Connection: close\r\nContent-Length: 0\r\n\r\n`);
      else socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.deps.log.info(
      { host, port: this.port, token: this.deps.token !== null && !isLoopback(host) },
      'http listening',
    );
  }

  /** Stops listening and drops open connections (players keep-alive forever otherwise). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    try {
      await this.route(req, res);
    } catch (error) {
      this.deps.log.warn({ err: error, url: req.url?.slice(0, 200) }, 'http request failed');
      if (!res.headersSent) this.json(req, res, errorReply(500, 'internal', 'internal error'));
      else res.destroy();
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    if (url.length > MAX_URL_CHARS) return this.json(req, res, errorReply(414, 'bad_request', 'url too long'));
    const misdirected = this.access.hostProblem(req);
    if (misdirected) return this.json(req, res, misdirected);
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    const query = new URLSearchParams(queryAt === -1 ? '' : url.slice(queryAt + 1));
    const readOnly = req.method === 'GET' || req.method === 'HEAD';
    if (path === '/api/session') return this.json(req, res, await this.access.session(req));
    if (!(readOnly && isPublic(path))) {
      const access = this.access.check(req);
      if (!access.ok) return this.json(req, res, access.reply);
      // Nothing else here changes state, but a cookie never gets past this without its CSRF token.
      const forged = readOnly ? null : this.access.csrfProblem(req, access);
      if (forged) return this.json(req, res, forged);
    }
    if (!readOnly)
      return this.json(req, res, {
        ...errorReply(405, 'bad_request', `method ${req.method} not allowed`),
        headers: { Allow: 'GET, HEAD' },
      });
    const d = this.deps;

    if (path === '/' || path === '/index.html') return this.page(req, res, 'index.html');
    if (path === '/healthz')
      return this.json(req, res, healthz(d.pipeline, d.staleFrameSeconds ?? 5, query.get('camera')));
    if (path === '/api/status') return this.json(req, res, await apiStatus(d));
    if (path === '/api/archives') return this.json(req, res, await apiArchives(d, query));
    if (path === '/metrics' && d.metrics) return serveMetrics(req, res, d.metrics);
    if (path === '/api/search') return this.json(req, res, apiSearch(d.search, query));
    if (path === '/favicon.ico') return void res.writeHead(204).end();
    if (path.startsWith('/static/')) return this.asset(req, res, path.slice('/static/'.length));
    if (path.startsWith('/hls/')) return this.hls(req, res, path.slice('/hls/'.length));
    if (path.startsWith(LIVE_PREFIX)) return this.json(req, res, this.live.plain(path));
    if (path.startsWith('/archives/')) return this.archive(req, res, path.slice('/archives/'.length));
    return this.notFound(req, res);
  }

  private async page(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    const file = await fileInside(webDir(), join(webDir(), name));
    if (!file) return this.notFound(req, res);
    // no-cache (revalidate), so a page from before an agent upgrade never lingers.
    await sendFile(req, res, file, { contentType: contentTypeFor(name), cacheControl: 'no-cache' });
  }

  private async asset(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    if ((PAGE_FILES as readonly string[]).includes(name) && name !== 'index.html') return this.page(req, res, name);
    const hlsDir = hlsJsDir();
    if ((name === 'hls.min.js' || name === 'hls.min.js.map') && hlsDir) {
      const file = await fileInside(hlsDir, join(hlsDir, name));
      if (file)
        return sendFile(req, res, file, { contentType: contentTypeFor(name), cacheControl: 'public, max-age=86400' });
    }
    return this.notFound(req, res);
  }

  private async hls(req: IncomingMessage, res: ServerResponse, rest: string): Promise<void> {
    const segments = safeSegments(rest);
    if (!segments || segments.length !== 2) return this.badPath(req, res);
    const [camera, name] = segments as [string, string];
    if (!CAMERA_ID.test(camera) || !this.knownCamera(camera)) return this.notFound(req, res);
    let cameraDir: string;
    try {
      cameraDir = this.deps.pipeline.hlsDir(camera);
    } catch {
      return this.notFound(req, res); // configured but not (yet) running after a config change
    }
    const file = await resolveSegments(cameraDir, [name]);
    // Both checks: the pipeline's directory, and hls.dir itself, which the contract promises.
    if (!file || !(await fileInside(this.deps.config().hls.dir, file.path))) return this.notFound(req, res);
    const playlist = name.endsWith('.m3u8');
    // The playlist changes every segment; segments never change once listed, and the window
    // is seconds long, so a short max-age lets a proxy help without serving a stale restart.
    const cacheControl = playlist ? 'no-cache, no-store' : 'public, max-age=30';
    await sendFile(req, res, file, { contentType: contentTypeFor(name), cacheControl });
  }

  private async archive(req: IncomingMessage, res: ServerResponse, rest: string): Promise<void> {
    const segments = safeSegments(rest);
    if (!segments || segments.length !== 3) return this.badPath(req, res);
    const [camera, date] = segments as [string, string, string];
    if (!CAMERA_ID.test(camera) || !/^\d{4}-\d{2}-\d{2}$/.test(date)) return this.badPath(req, res);
    const resolved = await this.deps.archives.resolve(segments.join('/'));
    // Never trust the catalog alone: the real path must lie inside archive.dir.
    const file = resolved ? await fileInside(this.deps.config().archive.dir, resolved) : null;
    if (!file) return this.notFound(req, res);
    await sendFile(req, res, file, { contentType: contentTypeFor(file.path), cacheControl: 'private, max-age=3600' });
  }

  private badPath(req: IncomingMessage, res: ServerResponse): void {
    this.json(req, res, errorReply(400, 'bad_request', 'bad path'));
  }

  private notFound(req: IncomingMessage, res: ServerResponse): void {
    this.json(req, res, errorReply(404, 'not_found', 'not found'));
  }

  private json(req: IncomingMessage, res: ServerResponse, reply: AccessReply): void {
    const body = Buffer.from(JSON.stringify(reply.body));
    res.writeHead(reply.status, {
      ...reply.headers,
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': body.length,
      'Cache-Control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}

/**
 * A local fake of the Gemini API (v1beta) speaking the REST shape @google/genai uses: resumable
 * upload (start → upload, finalize), files.get moving PROCESSING → ACTIVE, generateContent,
 * files.delete. It checks what it receives (API key header, a real MP4 of the announced size,
 * the response schema) and fails on purpose when a test scripts it. Each generateContent is
 * recorded with the frame rate and media resolution it asked for; with `usage: 'counted'` the
 * answer's usageMetadata is counted the way Google documents it, from the uploaded video itself.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

// Google's video-understanding guide (2.x models): a sampled frame is 66 tokens at low media
// resolution and 258 otherwise; audio 32 tokens a second; about 4 characters a token of text.
const FRAME_TOKENS: Record<string, number> = { MEDIA_RESOLUTION_LOW: 66 };
const DEFAULT_FRAME_TOKENS = 258;
const AUDIO_TOKENS_PER_SECOND = 32;

/** One scripted failure of generateContent (or of the upload start). */
export type Fault = { kind: 'status'; status: number; retryDelay?: string } | { kind: 'hang' } | { kind: 'malformed' };

/** A file as the fake keeps it. */
export interface FakeFile {
  name: string;
  displayName: string;
  announced: number;
  received: Buffer[];
  bytes: number;
  state: 'PROCESSING' | 'ACTIVE' | 'FAILED';
  polls: number;
  deleted: boolean;
  finalized: boolean;
}

/** Options of the fake. */
export interface FakeGeminiOptions {
  apiKey?: string;
  /** files.get answers PROCESSING this many times before ACTIVE; 0: the upload itself answers ACTIVE. */
  processingPolls?: number;
  /** The JSON the model "answers" (default: one person event). */
  answer?: (request: Record<string, unknown>) => unknown;
  /**
   * `fixed` (default): every answer reports 1200 + 80 + 20 tokens. `counted`: prompt tokens are
   * the uploaded video's sampled frames (its length × videoMetadata.fps, default 1) at the
   * resolution's rate, its audio seconds, and the text.
   */
  usage?: 'fixed' | 'counted';
}

/** One generateContent call as the fake saw it. */
export interface GenerateCall {
  /** The uploaded file's display name (`<camera> <archive file name>` from the agent). */
  displayName: string;
  /** `videoMetadata.fps` of the file part, if sent. */
  fps: number | undefined;
  /** `generationConfig.mediaResolution`, if sent. */
  mediaResolution: string | undefined;
  promptTokenCount: number;
}

/** One request as the fake saw it. */
export interface SeenRequest {
  method: string;
  path: string;
  at: number;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
  res.end(JSON.stringify(body));
}

function apiError(res: http.ServerResponse, status: number, message: string, details?: unknown[]): void {
  const statusName =
    {
      400: 'INVALID_ARGUMENT',
      403: 'PERMISSION_DENIED',
      404: 'NOT_FOUND',
      429: 'RESOURCE_EXHAUSTED',
      500: 'INTERNAL',
      503: 'UNAVAILABLE',
    }[status] ?? 'UNKNOWN';
  sendJson(res, status, { error: { code: status, message, status: statusName, ...(details ? { details } : {}) } });
}

/** The fake server; `start()` it, point `analysis.baseUrl` at `url`, `close()` it. */
export class FakeGemini {
  readonly apiKey: string;
  readonly files = new Map<string, FakeFile>();
  readonly seen: SeenRequest[] = [];
  /** Things the fake found wrong in what it received (a test asserts this stays empty). */
  readonly problems: string[] = [];
  readonly counts = { uploadStarts: 0, uploads: 0, gets: 0, generates: 0, deletes: 0 };
  /** The last generateContent body. */
  lastGenerate: Record<string, unknown> | null = null;
  /** Every answered generateContent, in order. */
  readonly generateCalls: GenerateCall[] = [];
  /** Faults for the next generateContent calls, in order. */
  readonly generateFaults: Fault[] = [];
  /** Faults for the next upload starts, in order. */
  readonly uploadFaults: Fault[] = [];
  /** The next uploaded files end FAILED instead of ACTIVE. */
  failNextFiles = 0;
  /** While true every request's connection is dropped unanswered: the API is unreachable (an outage). */
  down = false;
  /** Called when an upload is finalised (the kill -9 test kills the worker here). */
  onUploaded: ((file: FakeFile) => void) | null = null;
  processingPolls: number;
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly uploads = new Map<string, FakeFile>();
  private answer: (request: Record<string, unknown>) => unknown;
  private readonly usage: 'fixed' | 'counted';
  url = '';

  constructor(options: FakeGeminiOptions = {}) {
    this.apiKey = options.apiKey ?? 'test-key';
    this.processingPolls = options.processingPolls ?? 1;
    this.usage = options.usage ?? 'fixed';
    this.answer =
      options.answer ??
      (() => ({
        summary: 'A person walks through the yard and leaves.',
        events: [
          {
            start: '00:01',
            end: '00:03',
            label: 'person',
            description: 'A person crosses the yard from left to right.',
            severity: 'info',
          },
        ],
      }));
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /** Listens on a free loopback port. */
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Stops listening and drops every open connection (hung requests too). */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Files uploaded and not deleted. */
  liveFiles(): FakeFile[] {
    return [...this.files.values()].filter((f) => f.finalized && !f.deleted);
  }

  private resource(file: FakeFile): Record<string, unknown> {
    const now = new Date();
    return {
      name: file.name,
      displayName: file.displayName,
      mimeType: 'video/mp4',
      sizeBytes: String(file.bytes),
      createTime: now.toISOString(),
      updateTime: now.toISOString(),
      expirationTime: new Date(now.getTime() + 48 * 3600_000).toISOString(),
      sha256Hash: 'ZmFrZQ==',
      uri: `${this.url}/v1beta/${file.name}`,
      state: file.state,
      source: 'UPLOADED',
      ...(file.state === 'FAILED' ? { error: { code: 400, message: 'video could not be processed' } } : {}),
    };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (this.down) {
      this.seen.push({ method: req.method ?? '', path: 'down', at: Date.now() });
      return void req.socket.destroy();
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', this.url);
    this.seen.push({ method: req.method ?? '', path: url.pathname, at: Date.now() });
    const uploadId = url.searchParams.get('upload_id');
    // The upload URL carries its own id; the SDK sends no key on it (like Google's, it is a capability).
    if (uploadId && req.method === 'POST') return this.uploadChunk(uploadId, req, res, body);
    if (req.headers['x-goog-api-key'] !== this.apiKey)
      return apiError(res, 400, 'API key not valid. Please pass a valid API key.');
    if (req.method === 'POST' && url.pathname === '/upload/v1beta/files') return this.uploadStart(req, res, body);
    const fileMatch = /^\/v1beta\/(files\/[a-z0-9]+)$/.exec(url.pathname);
    if (fileMatch && req.method === 'GET') return this.getFile(fileMatch[1]!, res);
    if (fileMatch && req.method === 'DELETE') return this.deleteFile(fileMatch[1]!, res);
    const generate = /^\/v1beta\/models\/([^/:]+):generateContent$/.exec(url.pathname);
    if (generate && req.method === 'POST') return void (await this.generate(res, body));
    apiError(res, 404, `no route ${req.method} ${url.pathname}`);
  }

  private fault(res: http.ServerResponse, fault: Fault): boolean {
    if (fault.kind === 'hang') return true; // never answer: the client's timeout must fire
    if (fault.kind === 'status') {
      const details = fault.retryDelay
        ? [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: fault.retryDelay }]
        : undefined;
      apiError(
        res,
        fault.status,
        fault.status === 429 ? 'Resource has been exhausted (e.g. check quota).' : 'An internal error has occurred.',
        details,
      );
      return true;
    }
    return false;
  }

  private uploadStart(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
    this.counts.uploadStarts += 1;
    const fault = this.uploadFaults.shift();
    if (fault && this.fault(res, fault)) return;
    if (req.headers['x-goog-upload-protocol'] !== 'resumable' || req.headers['x-goog-upload-command'] !== 'start') {
      this.problems.push('upload start without resumable/start headers');
      return apiError(res, 400, 'bad upload start');
    }
    const announced = Number(req.headers['x-goog-upload-header-content-length']);
    const meta = JSON.parse(body.toString() || '{}') as { file?: { displayName?: string; mimeType?: string } };
    if (req.headers['x-goog-upload-header-content-type'] !== 'video/mp4')
      this.problems.push(`upload content type ${String(req.headers['x-goog-upload-header-content-type'])}`);
    const id = randomBytes(6).toString('hex');
    const file: FakeFile = {
      name: `files/${id}`,
      displayName: meta.file?.displayName ?? '',
      announced,
      received: [],
      bytes: 0,
      state: 'PROCESSING',
      polls: 0,
      deleted: false,
      finalized: false,
    };
    this.uploads.set(id, file);
    res.writeHead(200, {
      'x-goog-upload-url': `${this.url}/upload/v1beta/files?upload_id=${id}&upload_protocol=resumable`,
      'x-goog-upload-status': 'active',
    });
    res.end();
  }

  private uploadChunk(id: string, req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
    const file = this.uploads.get(id);
    if (!file) return apiError(res, 404, 'unknown upload');
    const offset = Number(req.headers['x-goog-upload-offset']);
    if (offset !== file.bytes) this.problems.push(`upload offset ${offset}, expected ${file.bytes}`);
    file.received.push(body);
    file.bytes += body.length;
    const command = String(req.headers['x-goog-upload-command'] ?? '');
    if (!command.includes('finalize')) {
      res.writeHead(200, { 'x-goog-upload-status': 'active' });
      return void res.end();
    }
    const data = Buffer.concat(file.received);
    file.received = [data];
    if (data.length !== file.announced)
      this.problems.push(`upload of ${data.length} bytes, announced ${file.announced}`);
    // A real MP4 starts with an `ftyp` box (our proxies are fast-start: `moov` follows).
    if (data.subarray(4, 8).toString('latin1') !== 'ftyp') this.problems.push('upload is not an MP4 (no ftyp box)');
    if (this.failNextFiles > 0) {
      this.failNextFiles -= 1;
      file.state = 'FAILED';
    } else if (this.processingPolls === 0) {
      file.state = 'ACTIVE';
    }
    file.finalized = true;
    this.files.set(file.name, file);
    this.counts.uploads += 1;
    sendJson(res, 200, { file: this.resource(file) }, { 'x-goog-upload-status': 'final' });
    this.onUploaded?.(file);
  }

  private getFile(name: string, res: http.ServerResponse): void {
    this.counts.gets += 1;
    const file = this.files.get(name);
    if (!file || file.deleted)
      return apiError(res, 403, `You do not have permission to access the File ${name.slice(6)} or it may not exist.`);
    file.polls += 1;
    if (file.state === 'PROCESSING' && file.polls > this.processingPolls) file.state = 'ACTIVE';
    sendJson(res, 200, this.resource(file));
  }

  private deleteFile(name: string, res: http.ServerResponse): void {
    const file = this.files.get(name);
    if (!file || file.deleted)
      return apiError(res, 403, `You do not have permission to access the File ${name.slice(6)} or it may not exist.`);
    file.deleted = true;
    this.counts.deletes += 1;
    sendJson(res, 200, {});
  }

  private async generate(res: http.ServerResponse, body: Buffer): Promise<void> {
    this.counts.generates += 1;
    const request = JSON.parse(body.toString()) as Record<string, unknown>;
    this.lastGenerate = request;
    const fault = this.generateFaults.shift();
    if (fault && this.fault(res, fault)) return;
    const config = (request.generationConfig ?? {}) as Record<string, unknown>;
    if (config.responseMimeType !== 'application/json' || !config.responseSchema)
      this.problems.push('generateContent without a JSON response schema');
    type Part = { fileData?: { fileUri?: string }; videoMetadata?: { fps?: number }; text?: string };
    const parts = ((request.contents ?? []) as Array<{ parts?: Part[] }>).flatMap((c) => c.parts ?? []);
    const video = parts.find((p) => p.fileData);
    const uri = video?.fileData?.fileUri;
    const file = uri ? this.files.get(uri.replace(`${this.url}/v1beta/`, '')) : undefined;
    if (!file || file.deleted) return apiError(res, 400, `file ${uri ?? '(none)'} not found`);
    if (file.state !== 'ACTIVE')
      return apiError(res, 400, `The File ${file.name} is not in an ACTIVE state and usage is not allowed.`);
    const fps = video?.videoMetadata?.fps;
    if (fps !== undefined && !(fps > 0 && fps <= 24))
      return apiError(res, 400, `videoMetadata.fps must be in (0, 24], got ${fps}`);
    const mediaResolution = typeof config.mediaResolution === 'string' ? config.mediaResolution : undefined;
    const text = fault?.kind === 'malformed' ? '{"summary": "cut off' : JSON.stringify(this.answer(request));
    const textChars =
      parts.reduce((n, p) => n + (p.text?.length ?? 0), 0) + JSON.stringify(config.responseSchema ?? '').length;
    const usage =
      this.usage === 'counted'
        ? await countedUsage(Buffer.concat(file.received), fps ?? 1, mediaResolution, textChars, text.length)
        : { promptTokenCount: 1200, candidatesTokenCount: 80, thoughtsTokenCount: 20, totalTokenCount: 1300 };
    this.generateCalls.push({
      displayName: file.displayName,
      fps,
      mediaResolution,
      promptTokenCount: usage.promptTokenCount,
    });
    sendJson(res, 200, {
      candidates: [{ content: { parts: [{ text }], role: 'model' }, finishReason: 'STOP', index: 0 }],
      usageMetadata: usage,
      modelVersion: 'gemini-2.5-flash',
      responseId: randomBytes(4).toString('hex'),
    });
  }
}

/** The video's length and whether it has sound, as ffprobe reads the uploaded bytes. */
async function probe(mp4: Buffer): Promise<{ seconds: number; audio: boolean }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'fake-gemini-'));
  try {
    const file = path.join(dir, 'upload.mp4');
    await writeFile(file, mp4);
    const { stdout } = await run('ffprobe', [
      '-v',
      'error',
      '-show_entries',
      'format=duration:stream=codec_type',
      '-of',
      'json',
      file,
    ]);
    const info = JSON.parse(stdout) as { format?: { duration?: string }; streams?: Array<{ codec_type?: string }> };
    return {
      seconds: Number(info.format?.duration ?? 0),
      audio: (info.streams ?? []).some((s) => s.codec_type === 'audio'),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** usageMetadata by the documented rates: frames sampled at `fps` over the video, its audio, the text. */
async function countedUsage(
  mp4: Buffer,
  fps: number,
  mediaResolution: string | undefined,
  textChars: number,
  answerChars: number,
) {
  const { seconds, audio } = await probe(mp4);
  const frames = Math.max(1, Math.ceil(seconds * fps - 1e-9));
  const perFrame = (mediaResolution && FRAME_TOKENS[mediaResolution]) || DEFAULT_FRAME_TOKENS;
  const promptTokenCount =
    frames * perFrame + (audio ? Math.ceil(seconds * AUDIO_TOKENS_PER_SECOND) : 0) + Math.ceil(textChars / 4);
  const candidatesTokenCount = Math.ceil(answerChars / 4);
  return { promptTokenCount, candidatesTokenCount, totalTokenCount: promptTokenCount + candidatesTokenCount };
}

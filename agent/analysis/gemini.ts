/**
 * The Gemini client: the only importer of @google/genai. Files API upload, wait for ACTIVE,
 * generateContent with a response schema, delete. The SDK (2.32, the last for Node 20) neither
 * retries by default nor honours RetryInfo, so it is left not to retry and every failure is
 * classified here for the queue, which retries with its own durable backoff.
 */
import { ApiError, GoogleGenAI, MediaResolution, createPartFromUri, type File as GenaiFile } from '@google/genai';
import type { AnalysisResolution } from '../config/types.js';
import type { Logger } from '../util/logger.js';
import { RESPONSE_SCHEMA } from './answer.js';
import { AbortedError, AnalysisError } from './errors.js';

/** The Gemini API's public endpoint, used when analysis.baseUrl is null. */
export const DEFAULT_BASE_URL = 'https://generativelanguage.googleapis.com';

/** An uploaded file as the queue tracks it. */
export interface RemoteFile {
  /** `files/abc123`. */
  name: string;
  uri: string;
  mimeType: string;
  state: 'PROCESSING' | 'ACTIVE' | 'FAILED' | 'STATE_UNSPECIFIED';
  /** When the API deletes it by itself (48 h after upload); null if not told. */
  expiresAtMs: number | null;
  error?: string;
}

/** Token counts as the API reports them (`usageMetadata`). */
export interface Usage {
  promptTokenCount: number;
  candidatesTokenCount: number;
  thoughtsTokenCount?: number;
  totalTokenCount: number;
}

/** One model answer. */
export interface Answer {
  text: string | undefined;
  usage: Usage | null;
}

/** How the model is to look at the video: the frames per second it samples and its media resolution. */
export interface MediaOptions {
  fps: number;
  resolution: AnalysisResolution;
}

const MEDIA_RESOLUTION: Readonly<Record<AnalysisResolution, MediaResolution>> = {
  low: MediaResolution.MEDIA_RESOLUTION_LOW,
  medium: MediaResolution.MEDIA_RESOLUTION_MEDIUM,
  high: MediaResolution.MEDIA_RESOLUTION_HIGH,
};

/** What the queue needs from a video model; GeminiClient is the one implementation. */
export interface VideoModel {
  /** The model id that goes into each result. */
  readonly model: string;
  upload(file: string, displayName: string, signal: AbortSignal): Promise<RemoteFile>;
  /** The file's current state, or null when the API no longer has it. */
  get(name: string, signal: AbortSignal): Promise<RemoteFile | null>;
  generate(file: RemoteFile, prompt: string, media: MediaOptions, signal: AbortSignal): Promise<Answer>;
  /** Deletes an uploaded file; one already gone is not an error. */
  remove(name: string): Promise<void>;
}

/** What the client needs. */
export interface GeminiClientDeps {
  apiKey: string;
  model: string;
  baseUrl?: string | null;
  /** Per-request client timeout (the SDK has none by default): a hung call becomes retryable. */
  timeoutMs?: number;
  log: Logger;
}

/** Per-request timeout: an 8 MB upload chunk at 1 Mb/s takes ~70 s; a 10-min clip's answer ~30–90 s. */
export const DEFAULT_TIMEOUT_MS = 180_000;

/** The wait in a RetryInfo detail of an API error body ("37s", "1.5s"), in ms, or null. */
export function retryDelayFrom(message: string): number | null {
  let body: unknown;
  try {
    body = JSON.parse(message);
  } catch {
    // Stream errors prefix the JSON with "got status: ...".
    const at = message.indexOf('{');
    try {
      body = at >= 0 ? JSON.parse(message.slice(at)) : null;
    } catch {
      return null;
    }
  }
  const details = (body as { error?: { details?: unknown } } | null)?.error?.details;
  if (!Array.isArray(details)) return null;
  for (const d of details as Array<Record<string, unknown>>) {
    const type = typeof d['@type'] === 'string' ? (d['@type'] as string) : '';
    const delay = d.retryDelay;
    if (type.endsWith('google.rpc.RetryInfo') && typeof delay === 'string') {
      const m = /^(\d+(?:\.\d+)?)s$/.exec(delay.trim());
      if (m) return Math.round(Number(m[1]) * 1000);
    }
  }
  return null;
}

/** The API error's own message, not its whole JSON body. */
function apiMessage(error: ApiError): string {
  try {
    const body = JSON.parse(error.message) as { error?: { message?: string; status?: string } };
    return [body.error?.status, body.error?.message].filter(Boolean).join(': ') || error.message;
  } catch {
    return error.message.slice(0, 300);
  }
}

/** Turns whatever an SDK call threw into an AnalysisError that says whether to retry. */
export function classify(error: unknown, what: string, signal?: AbortSignal): AnalysisError {
  if (error instanceof AnalysisError) return error;
  if (signal?.aborted) return new AbortedError();
  if (error instanceof ApiError) {
    const status = error.status;
    const retryable = status === 429 || status === 408 || status >= 500;
    return new AnalysisError(
      `${what}: HTTP ${status} ${apiMessage(error)}`,
      {
        retryable,
        status,
        retryAfterMs: retryable ? retryDelayFrom(error.message) : null,
      },
      { cause: error },
    );
  }
  const err = error as Error;
  // AbortError/TimeoutError (our timeout), TypeError "fetch failed" (network): try again later.
  const reason =
    err?.name === 'AbortError' || err?.name === 'TimeoutError' ? 'timed out' : (err?.message ?? String(error));
  return new AnalysisError(`${what}: ${reason}`, { retryable: true, offline: isUnreachable(error) }, { cause: error });
}

// undici's fetch wraps these in TypeError("fetch failed", { cause }): the API was never reached.
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Whether an error (or one of its causes) says the API could not be reached at all. */
export function isUnreachable(error: unknown): boolean {
  for (
    let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 5;
    e = e.cause as typeof e, depth++
  ) {
    if (typeof e.code === 'string' && UNREACHABLE.has(e.code)) return true;
  }
  return false;
}

function toRemote(file: GenaiFile): RemoteFile {
  if (!file.name || !file.uri)
    throw new AnalysisError('upload: the API returned no file name or uri', { retryable: true });
  const expires = file.expirationTime ? Date.parse(file.expirationTime) : Number.NaN;
  return {
    name: file.name,
    uri: file.uri,
    mimeType: file.mimeType ?? 'video/mp4',
    state: (file.state as RemoteFile['state'] | undefined) ?? 'STATE_UNSPECIFIED',
    expiresAtMs: Number.isFinite(expires) ? expires : null,
    ...(file.error?.message ? { error: file.error.message } : {}),
  };
}

/** Gemini through @google/genai, on the v1beta API (where the Files API lives). */
export class GeminiClient implements VideoModel {
  readonly model: string;
  private ai: GoogleGenAI | null = null;

  constructor(private readonly deps: GeminiClientDeps) {
    this.model = deps.model;
  }

  private client(): GoogleGenAI {
    this.ai ??= new GoogleGenAI({
      apiKey: this.deps.apiKey,
      apiVersion: 'v1beta',
      httpOptions: {
        baseUrl: this.deps.baseUrl ?? DEFAULT_BASE_URL,
        timeout: this.deps.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      },
    });
    return this.ai;
  }

  async upload(file: string, displayName: string, signal: AbortSignal): Promise<RemoteFile> {
    try {
      const uploaded = await this.client().files.upload({
        file,
        config: { mimeType: 'video/mp4', displayName, abortSignal: signal },
      });
      return toRemote(uploaded);
    } catch (error) {
      throw classify(error, 'upload', signal);
    }
  }

  async get(name: string, signal: AbortSignal): Promise<RemoteFile | null> {
    try {
      return toRemote(await this.client().files.get({ name, config: { abortSignal: signal } }));
    } catch (error) {
      // 404: deleted or expired; 403: the key cannot see it (a file of another project/key).
      if (error instanceof ApiError && (error.status === 404 || error.status === 403)) return null;
      throw classify(error, 'files.get', signal);
    }
  }

  async generate(file: RemoteFile, prompt: string, media: MediaOptions, signal: AbortSignal): Promise<Answer> {
    // Without videoMetadata the API samples at its default 1 fps, whatever rate the proxy has.
    const video = { ...createPartFromUri(file.uri, file.mimeType), videoMetadata: { fps: media.fps } };
    try {
      const response = await this.client().models.generateContent({
        model: this.model,
        contents: [{ role: 'user', parts: [video, { text: prompt }] }],
        config: {
          responseMimeType: 'application/json',
          responseSchema: RESPONSE_SCHEMA as unknown as Record<string, unknown>,
          // Whole request (all 2.x models); low is ~66 tokens a frame instead of ~258.
          mediaResolution: MEDIA_RESOLUTION[media.resolution],
          temperature: 0.2,
          abortSignal: signal,
        },
      });
      const u = response.usageMetadata;
      const usage: Usage | null = u
        ? {
            promptTokenCount: u.promptTokenCount ?? 0,
            candidatesTokenCount: u.candidatesTokenCount ?? 0,
            ...(u.thoughtsTokenCount !== undefined ? { thoughtsTokenCount: u.thoughtsTokenCount } : {}),
            totalTokenCount: u.totalTokenCount ?? 0,
          }
        : null;
      return { text: response.text, usage };
    } catch (error) {
      throw classify(error, 'generateContent', signal);
    }
  }

  async remove(name: string): Promise<void> {
    try {
      await this.client().files.delete({ name });
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 403)) return;
      throw classify(error, 'files.delete');
    }
  }
}

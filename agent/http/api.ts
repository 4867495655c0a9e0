/** The JSON endpoints: /api/status, /api/archives and /healthz. Each returns a status code and a body. */
import type { ArchiveCatalog, CameraStats, PipelineControl } from '../contract/services.js';

/** A JSON answer before it is written. */
export interface JsonReply {
  status: number;
  body: unknown;
}

/** What the JSON endpoints read; a subset of the server's deps. */
export interface ApiDeps {
  pipeline: PipelineControl;
  archives: ArchiveCatalog;
  health: { snapshot(): Promise<object> };
  status: () => Promise<object>;
}

/** Camera ids as they may appear in URLs and queries: no dots or slashes, so never a path trick. */
export const CAMERA_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** A 4xx/5xx body: the same `{error: {code, message}}` shape command replies use. */
export function errorReply(
  status: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
): JsonReply {
  return { status, body: { error: { code, message }, ...extra } };
}

/** /api/status: the caller's device/version/uptime/mqtt figures, plus cameras, disk and the health snapshot. */
export async function apiStatus(deps: ApiDeps): Promise<JsonReply> {
  const [base, health] = await Promise.all([
    deps.status(),
    // A health read that fails must not hide the pipeline state the technician came for.
    deps.health.snapshot().catch(() => null),
  ]);
  const disk = health && 'disk' in health ? (health as { disk: unknown }).disk : null;
  return { status: 200, body: { ...base, cameras: deps.pipeline.stats(), disk, health } };
}

/** /api/archives?camera=&limit=: finished archives newest first, each with its URL and analysis where present. */
export async function apiArchives(deps: ApiDeps, query: URLSearchParams): Promise<JsonReply> {
  for (const key of ['camera', 'limit']) {
    if (query.getAll(key).length > 1) return errorReply(400, 'bad_request', `${key} may be given once`);
  }
  const camera = query.get('camera');
  const limitText = query.get('limit');
  if (camera !== null && camera !== '' && !CAMERA_ID.test(camera)) {
    return errorReply(
      400,
      'bad_request',
      `camera must match ${CAMERA_ID.source}, got ${JSON.stringify(camera.slice(0, 80))}`,
    );
  }
  let limit = 50;
  if (limitText !== null && limitText !== '') {
    limit = /^\d{1,4}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= 1000)) {
      return errorReply(
        400,
        'bad_request',
        `limit must be an integer from 1 to 1000, got ${JSON.stringify(limitText.slice(0, 80))}`,
      );
    }
  }
  const entries = await deps.archives.list(camera ? { camera, limit } : { limit });
  const body = await Promise.all(
    entries.map(async (entry) => {
      const analysis = entry.analysed ? await deps.archives.analysis(entry.file).catch(() => null) : null;
      const url = '/archives/' + entry.file.split('/').map(encodeURIComponent).join('/');
      return { ...entry, url, analysis };
    }),
  );
  return { status: 200, body };
}

/** Why one camera is not healthy, or null when it is running with a fresh frame. */
export function cameraProblem(stats: CameraStats, staleSeconds: number): string | null {
  if (stats.state !== 'running')
    return `${stats.camera}: pipeline ${stats.state}${stats.lastError ? ` (${stats.lastError})` : ''}`;
  if (stats.lastFrameAgeSeconds === null) return `${stats.camera}: no frame yet`;
  if (stats.lastFrameAgeSeconds >= staleSeconds)
    return `${stats.camera}: last frame ${stats.lastFrameAgeSeconds.toFixed(1)} s ago`;
  return null;
}

/**
 * /healthz: 200 when every pipeline runs with a fresh frame, 503 with the reasons otherwise; the
 * body names each camera's state. `?camera=<id>` answers for that camera alone (404 if unknown),
 * so a monitor can tell one dead camera from a dead board.
 */
export function healthz(pipeline: PipelineControl, staleSeconds: number, camera: string | null = null): JsonReply {
  const all = pipeline.stats();
  const cameras = camera === null ? all : all.filter((c) => c.camera === camera);
  if (camera !== null && cameras.length === 0)
    return errorReply(404, 'not_found', `no camera ${JSON.stringify(camera.slice(0, 64))}`);
  const reasons = cameras.map((c) => cameraProblem(c, staleSeconds)).filter((r): r is string => r !== null);
  const ok = reasons.length === 0;
  return {
    status: ok ? 200 : 503,
    body: {
      ok,
      reasons,
      cameras: cameras.map((c) => ({
        camera: c.camera,
        state: c.state,
        ok: cameraProblem(c, staleSeconds) === null,
        lastFrameAgeSeconds: c.lastFrameAgeSeconds,
        lastError: c.lastError,
      })),
    },
  };
}

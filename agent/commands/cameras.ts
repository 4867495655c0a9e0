/** Checks a camera id names a configured camera, before any handler acts on it. */
import { AgentError } from '../contract/errors.js';
import { allowOnly, NAME, optString } from './schema.js';
import type { ConfigControl } from './types.js';

/** Throws not_found unless `camera` is undefined or a configured camera id. */
export function requireCamera(config: ConfigControl, camera: string | undefined): void {
  if (camera === undefined) return;
  const ids = config.current().cameras.map((c) => c.id);
  if (!ids.includes(camera)) {
    throw new AgentError('not_found', `camera ${camera} is not configured (cameras: ${ids.join(', ') || 'none'})`);
  }
}

/** Parses the `{"camera"?}` body several commands share: only that field, a configured id. */
export function parseOptionalCamera(config: ConfigControl, body: Record<string, unknown>): { camera?: string } {
  allowOnly(body, ['camera']);
  const camera = optString(body, 'camera', NAME);
  requireCamera(config, camera);
  return { camera };
}

/** Checks a camera id names a configured camera, before any handler acts on it. */
import { AgentError } from '../contract/errors.js';
import type { ConfigControl } from './types.js';

/** Throws not_found unless `camera` is undefined or a configured camera id. */
export function requireCamera(config: ConfigControl, camera: string | undefined): void {
  if (camera === undefined) return;
  const ids = config.current().cameras.map((c) => c.id);
  if (!ids.includes(camera)) {
    throw new AgentError('not_found', `camera ${camera} is not configured (cameras: ${ids.join(', ') || 'none'})`);
  }
}

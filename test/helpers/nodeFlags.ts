import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const UNIT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../systemd/edge-agent.service');

/**
 * The Node.js options the systemd unit gives the agent (NODE_OPTIONS: the young-generation cap),
 * as command-line flags, so tests and benchmarks measure the agent as boards run it. Flags, not
 * the environment variable: tap passes its own NODE_OPTIONS down to what tests spawn.
 */
export function unitNodeFlags(unitText = readFileSync(UNIT, 'utf8')): string[] {
  const line = unitText.split('\n').find((l) => l.startsWith('Environment=NODE_OPTIONS='));
  return line ? line.slice('Environment=NODE_OPTIONS='.length).trim().split(/\s+/).filter(Boolean) : [];
}

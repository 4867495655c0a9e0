import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const UNIT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../systemd/edge-agent.service');

/** The value of one `Environment=NAME=value` line of the unit (quoted or not), or '' if it has none. */
export function unitEnvironment(name: string, unitText = readFileSync(UNIT, 'utf8')): string {
  const line = unitText
    .split('\n')
    .map((l) => l.replace(/^Environment="(.*)"$/, 'Environment=$1'))
    .find((l) => l.startsWith(`Environment=${name}=`));
  return line ? line.slice(`Environment=${name}=`.length).trim() : '';
}

/**
 * The Node.js options the systemd unit gives the agent (NODE_OPTIONS: the young-generation cap;
 * EDGE_AGENT_NODE_FLAGS, which bin/edge-agent passes to node: the optimising compilers off), as
 * command-line flags, so tests and benchmarks measure the agent as boards run it. Flags, not the
 * environment variable: tap passes its own NODE_OPTIONS down to what tests spawn.
 */
export function unitNodeFlags(unitText = readFileSync(UNIT, 'utf8')): string[] {
  return ['NODE_OPTIONS', 'EDGE_AGENT_NODE_FLAGS'].flatMap((name) =>
    unitEnvironment(name, unitText).split(/\s+/).filter(Boolean),
  );
}

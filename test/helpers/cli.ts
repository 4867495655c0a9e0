/**
 * How tests run the `edge-agent` command. `npm test` builds dist/ before any test and says so
 * (EDGE_AGENT_TEST_BUILT=1): then the built agent runs, as a board runs it, and it starts on about
 * half the CPU of the source through tsx (0.65 s against 1.4-1.8 s; with a few hundred agent
 * starts per suite on two cores, minutes of the run). A test file run by hand (`npx tap file`)
 * runs the source, so an edit needs no build.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILT = path.join(ROOT, 'dist/agent/cli.js');

/** The node arguments that run the CLI: the build when `npm test` made it, else the source through tsx. */
export function agentCliArgs(): string[] {
  if (process.env.EDGE_AGENT_TEST_BUILT === '1') {
    if (!existsSync(BUILT)) throw new Error('EDGE_AGENT_TEST_BUILT=1 but dist/ has no agent: run npm run build');
    return [BUILT];
  }
  return ['--import', 'tsx', path.join(ROOT, 'agent/cli.ts')];
}

/**
 * The environment for the agent under test: tap's NODE_OPTIONS (its process-tracking import,
 * a third of an agent's start-up CPU) is not passed on; what the test gives wins.
 */
export function agentEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _tapOptions, ...rest } = process.env;
  return { ...rest, ...extra };
}

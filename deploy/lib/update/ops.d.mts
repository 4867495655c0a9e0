// Types of ops.mjs for the TypeScript tests.
import type { UpdateOps } from './machine.mjs';

export function requestProblem(request: unknown): string | null;
export function machineArch(): string;
export function boardOps(options?: {
  root?: string;
  dataDir?: string;
  hook?: string;
  log?: (line: string) => void;
}): UpdateOps & { paths: Record<string, string> };
export function trustedKeys(dir: string): Promise<unknown[]>;

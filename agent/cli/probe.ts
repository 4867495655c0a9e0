import type { CliOptions } from './options.js';

/** `edge-agent probe`: not built yet. */
export async function probeCommand(_options: CliOptions): Promise<number> {
  process.stderr.write('edge-agent probe: not implemented yet\n');
  return 1;
}

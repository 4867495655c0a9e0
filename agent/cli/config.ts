import type { CliOptions } from './options.js';

/** `edge-agent config`: not built yet. */
export async function configCommand(_options: CliOptions): Promise<number> {
  process.stderr.write('edge-agent config: not implemented yet\n');
  return 1;
}

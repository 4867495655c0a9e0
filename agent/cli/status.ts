import type { CliOptions } from './options.js';

/** `edge-agent status`: not built yet. */
export async function statusCommand(_options: CliOptions): Promise<number> {
  process.stderr.write('edge-agent status: not implemented yet\n');
  return 1;
}

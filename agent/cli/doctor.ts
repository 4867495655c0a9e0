import type { CliOptions } from './options.js';

/** `edge-agent doctor`: not built yet. */
export async function doctorCommand(_options: CliOptions): Promise<number> {
  process.stderr.write('edge-agent doctor: not implemented yet\n');
  return 1;
}

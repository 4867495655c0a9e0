import { buildDoctorContext } from '../doctor/context.js';
import { formatChecks, runChecks } from '../doctor/index.js';
import type { CliOptions } from './options.js';

/**
 * `edge-agent doctor [--json] [--config FILE] [--trust-base-url]`: the technician's checklist. Exit 1 when any
 * check fails, 0 otherwise (warnings included).
 */
export async function doctorCommand(options: CliOptions): Promise<number> {
  const ctx = buildDoctorContext({ config: options.config, set: options.set, trustBaseUrl: options.trustBaseUrl });
  const checks = await runChecks(ctx);
  if (options.json) process.stdout.write(`${JSON.stringify({ checks }, null, 2)}\n`);
  else {
    process.stdout.write(
      `edge-agent doctor: ${ctx.config.device.id}, config ${ctx.configFile ?? '(built-in defaults)'}\n\n`,
    );
    process.stdout.write(formatChecks(checks));
  }
  return checks.some((c) => c.status === 'fail') ? 1 : 0;
}

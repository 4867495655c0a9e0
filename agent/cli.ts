#!/usr/bin/env node
/**
 * The `edge-agent` command line. Each subcommand lives in agent/cli/<name>.ts and returns its
 * exit status; only this file and main.ts's run loop end the process.
 */
import { parseArgs } from 'node:util';
import type { CliOptions } from './cli/options.js';

const USAGE = `usage: edge-agent [command] [options]

commands:
  run [--config FILE] [--set key.path=value ...]   run the agent (default)
  config check FILE                                 validate a config file (exit 2 if invalid)
  config print [--config FILE] [--set k=v ...]      print the effective config, secrets redacted
  probe [--json]                                    list cameras and H.264 encoders that work
  doctor [--json] [--config FILE] [--trust-base-url] a technician's checklist (exit 1 on any fail)
  status [--config FILE]                            summarise the running agent
  version                                           print the agent's version (also --version)
  fleet rollout|rollback|status ...                 update a fleet through the broker (edge-agent fleet for usage)
`;

function parse(argv: string[]): CliOptions {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      set: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      'trust-base-url': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      version: { type: 'boolean', short: 'V', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (values.version) positionals.unshift('version');
  return {
    config: values.config,
    set: values.set ?? [],
    json: values.json ?? false,
    trustBaseUrl: values['trust-base-url'] ?? false,
    positionals,
  };
}

async function dispatch(argv: string[]): Promise<number> {
  // fleet has options of its own (a roll-out's, not an agent's).
  if (argv[0] === 'fleet') return (await import('./cli/fleet.js')).fleetCommand(argv.slice(1));
  let options: CliOptions;
  try {
    options = parse(argv);
  } catch (error) {
    process.stderr.write(`edge-agent: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const [command = 'run', ...rest] = options.positionals;
  options.positionals = rest;
  switch (command) {
    case 'run':
      return (await import('./main.js')).runAgent(options);
    case 'config':
      return (await import('./cli/config.js')).configCommand(options);
    case 'probe':
      return (await import('./cli/probe.js')).probeCommand(options);
    case 'doctor':
      return (await import('./cli/doctor.js')).doctorCommand(options);
    case 'status':
      return (await import('./cli/status.js')).statusCommand(options);
    case 'version':
      process.stdout.write(`${(await import('./version.js')).VERSION}\n`);
      return 0;
    default:
      process.stderr.write(`edge-agent: unknown command '${command}'\n${USAGE}`);
      return 2;
  }
}

dispatch(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`edge-agent: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);

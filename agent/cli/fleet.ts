/**
 * `edge-agent fleet rollout|rollback|status`: drives a fleet's updates through the broker only
 * (README "A fleet over MQTT"). The engine is agent/fleet/rollout.ts; this file reads the
 * options, builds the desired documents and prints.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { signCommand } from '../link/signature.js';
import { MqttFleet } from '../fleet/mqttFleet.js';
import { parseStages, planStages } from '../fleet/plan.js';
import { runRollout } from '../fleet/rollout.js';
import { formatLiveStatus, formatStatus, loadRollout, saveRollout, type RolloutState } from '../fleet/state.js';

const USAGE = `usage:
  edge-agent fleet rollout --manifest FILE [--sig FILE] --url URL --broker URL (--devices FILE | --group PREFIX)
      [--stages 1,10%,50%,100%] [--abort-percent 20] [--abort-min 3] [--timeout SECONDS]
      [--state FILE] [--topic-prefix edge] [--username U] [--password-file F] [--command-key FILE] [--dry-run]
  edge-agent fleet rollback --state FILE --manifest FILE [--sig FILE] --url URL --broker URL [options as rollout]
      the boards the roll-out in --state updated get the release given (the one they ran before)
  edge-agent fleet status --state FILE
      how each board of a roll-out ended, from its state file
  edge-agent fleet status --broker URL (--devices FILE | --group PREFIX | --state FILE) [--topic-prefix edge] [--username U] [--password-file F]
      live, from the broker: each board's release, update state, link and when it was last seen
`;

const OPTIONS = {
  manifest: { type: 'string' },
  sig: { type: 'string' },
  url: { type: 'string' },
  broker: { type: 'string' },
  devices: { type: 'string' },
  group: { type: 'string' },
  stages: { type: 'string', default: '1,10%,50%,100%' },
  'abort-percent': { type: 'string', default: '20' },
  'abort-min': { type: 'string', default: '3' },
  timeout: { type: 'string', default: '900' },
  state: { type: 'string' },
  'topic-prefix': { type: 'string', default: 'edge' },
  username: { type: 'string' },
  'password-file': { type: 'string' },
  'command-key': { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; args: string[] }>>['values'];

/** Runs a fleet subcommand; returns the exit status (0 done, 1 aborted or failed, 2 usage). */
export async function fleetCommand(
  argv: string[],
  print: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<number> {
  const [sub, ...rest] = argv;
  let values: Values;
  try {
    values = parseArgs({ args: rest, options: OPTIONS, allowPositionals: false }).values;
  } catch (error) {
    process.stderr.write(`edge-agent fleet: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  try {
    if (sub === 'status') return await status(values, print);
    if (sub === 'rollout') return await rollout(values, print, null);
    if (sub === 'rollback') return await rollout(values, print, values.state ?? null);
  } catch (error) {
    process.stderr.write(`edge-agent fleet ${sub}: ${(error as Error).message}\n`);
    return 2;
  }
  process.stderr.write(USAGE);
  return 2;
}

async function status(values: Values, print: (line: string) => void): Promise<number> {
  if (values.broker) return liveStatus(values, print);
  if (!values.state) throw new Error('--state FILE (or --broker URL) is required');
  const state = await loadRollout(values.state);
  if (!state) throw new Error(`no roll-out state in ${values.state}`);
  print(formatStatus(state).trimEnd());
  return state.status === 'aborted' ? 1 : 0;
}

/** The boards of --devices, --group or a roll-out's --state, read from their retained topics. */
async function liveStatus(values: Values, print: (line: string) => void): Promise<number> {
  const fleet = await connectFleet(values);
  try {
    let devices: string[];
    if (values.state && !values.devices && values.group === undefined) {
      const state = await loadRollout(values.state);
      if (!state) throw new Error(`no roll-out state in ${values.state}`);
      devices = Object.keys(state.boards).sort();
    } else {
      devices = await boardsFor(values, null, fleet);
    }
    // Retained messages come in one burst after subscribing; a board never seen stays "unknown".
    await fleet.seenAll(devices, 3000);
    print(formatLiveStatus(devices.map((id) => ({ id, report: fleet.report(id), link: fleet.link(id) }))).trimEnd());
    return 0;
  } finally {
    await fleet.end();
  }
}

function connectFleet(values: Values): Promise<MqttFleet> {
  const password = values['password-file'] ? readFileSync(values['password-file'], 'utf8').trim() : undefined;
  return MqttFleet.connect({
    url: need(values.broker, '--broker'),
    topicPrefix: values['topic-prefix']!,
    username: values.username,
    password,
  });
}

function need(value: string | undefined, name: string): string {
  if (!value) throw new Error(`${name} is required`);
  return value;
}

/** A roll-out (rollbackOf null) or a roll-back of the boards another roll-out's state file names as done. */
async function rollout(values: Values, print: (line: string) => void, rollbackOf: string | null): Promise<number> {
  const manifestFile = need(values.manifest, '--manifest');
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { version: string; sha256: string };
  const releaseSig = readFileSync(values.sig ?? manifestFile.replace(/\.json$/, '.sig'), 'utf8').trim();
  const url = need(values.url, '--url');
  const stateFile = rollbackOf
    ? `${rollbackOf.replace(/\.json$/, '')}.rollback.json`
    : (values.state ?? `rollout-${manifest.version}.json`);
  const abort = { percent: Number(values['abort-percent']), min: Number(values['abort-min']) };
  if (!(abort.percent > 0 && abort.percent <= 100) || !(abort.min >= 1))
    throw new Error('--abort-percent must be in (0, 100] and --abort-min at least 1');
  const key = values['command-key'] ? readFileSync(values['command-key'], 'utf8').trim() : null;
  const document = (_device: string, ts: string): Record<string, unknown> => {
    // With a command key the board wants the document signed, the release signature then in releaseSig.
    return key
      ? signCommand(key, 'release/desired', { manifest, releaseSig, url, ts })
      : { manifest, sig: releaseSig, url, ts };
  };

  let state = await loadRollout(stateFile);
  if (state && (state.version !== manifest.version || state.sha256 !== manifest.sha256))
    throw new Error(`${stateFile} is a roll-out of ${state.version}, not ${manifest.version}: give another --state`);
  if (state?.status === 'done' || state?.status === 'aborted') {
    print(formatStatus(state).trimEnd());
    return state.status === 'done' ? 0 : 1;
  }
  const needsBroker = !values['dry-run'] || (!state && values.group);
  const fleet = needsBroker ? await connectFleet(values) : null;
  try {
    if (!state) {
      const devices = await boardsFor(values, rollbackOf, fleet);
      if (devices.length === 0) throw new Error('no boards to update');
      const stages = planStages(devices, parseStages(values.stages!));
      state = {
        format: 1,
        version: manifest.version,
        sha256: manifest.sha256,
        url,
        topicPrefix: values['topic-prefix']!,
        stages,
        boards: Object.fromEntries(
          stages.flatMap((ids, stage) =>
            ids.map((id) => [
              id,
              { stage, state: 'pending' as const, reason: null, publishedAt: null, ts: null, finishedAt: null },
            ]),
          ),
        ),
        status: 'running',
        reason: null,
        startedAt: new Date().toISOString(),
      } satisfies RolloutState;
    } else {
      print(`resuming the roll-out of ${state.version} from ${stateFile}`);
    }
    if (values['dry-run']) {
      print(
        `dry run: ${manifest.version} to ${Object.keys(state.boards).length} board(s) in ${state.stages.length} stage(s); abort when ${abort.percent} % of at least ${abort.min} finished boards failed`,
      );
      state.stages.forEach((ids, i) => print(`  stage ${i + 1}${i === 0 ? ' (canary)' : ''}: ${ids.join(' ')}`));
      print(
        `  each gets retained ${values['topic-prefix']}/<board>/release/desired ${JSON.stringify(document('<board>', new Date().toISOString()))}`,
      );
      return 0;
    }
    await saveRollout(stateFile, state);
    print(`state: ${stateFile}`);
    const end = await runRollout(state, {
      link: fleet!,
      stateFile,
      document,
      abort,
      boardTimeoutMs: Number(values.timeout) * 1000,
      print,
    });
    return end.status === 'done' ? 0 : 1;
  } finally {
    await fleet?.end();
  }
}

async function boardsFor(values: Values, rollbackOf: string | null, fleet: MqttFleet | null): Promise<string[]> {
  if (rollbackOf) {
    const earlier = await loadRollout(rollbackOf);
    if (!earlier) throw new Error(`no roll-out state in ${rollbackOf}`);
    return Object.entries(earlier.boards)
      .filter(([, b]) => b.state === 'done')
      .map(([id]) => id);
  }
  if (values.devices) {
    return readFileSync(values.devices, 'utf8')
      .split('\n')
      .map((l) => l.replace(/#.*/, '').trim())
      .filter(Boolean);
  }
  if (values.group !== undefined && fleet) return fleet.discover(values.group);
  throw new Error('give --devices FILE or --group PREFIX');
}

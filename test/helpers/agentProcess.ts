import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { unitEnvironment, unitNodeFlags } from './nodeFlags.js';
import type { AgentEvent, AgentEventType } from '../../agent/contract/events.js';
import { waitFor } from './waitFor.js';
import { agentCliArgs, agentEnv, ROOT } from './cli.js';

export { ROOT };

/** One JSON log record of the agent. */
export type LogRecord = Record<string, unknown> & { msg?: string; level?: string };

/** A small test config: one 320x240 synthetic camera per id, short archives, everything under `dir`. */
export function testConfig(
  dir: string,
  overrides: Record<string, unknown> = {},
  cameras = ['cam1'],
): Record<string, unknown> {
  return {
    device: { id: 'test-device' },
    cameras: cameras.map((id) => ({ id, source: 'test', width: 320, height: 240, fps: 15 })),
    encoder: { prefer: 'auto', bitrateKbps: 400 },
    hls: { dir: path.join(dir, 'hls'), segmentSeconds: 1, listSize: 4 },
    archive: { dir: path.join(dir, 'archive'), segmentSeconds: 4, maxAgeHours: 168, minFreePercent: 1 },
    // No broker: the link just keeps retrying, and parallel tests never fight over port 1883.
    mqtt: { url: 'mqtt://127.0.0.1:1' },
    http: { listen: '127.0.0.1:0' },
    dataDir: path.join(dir, 'data'),
    ...overrides,
  };
}

/** The agent run as a real process (the build under npm test, else the source: helpers/cli.ts), its JSON log lines collected. */
export class AgentProcess {
  readonly child: ChildProcess;
  readonly records: LogRecord[] = [];
  /** Lines that name `component` twice (a child logger of a child): JSON readers keep only one. */
  linesWithTwoComponents = 0;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private stdoutRest = '';
  stderr = '';

  /**
   * `wrapper` gets the agent's argv appended and must `exec` it, so the pid stays the agent's
   * (e.g. ['unshare', '-m', 'sh', '-c', 'mount ...; exec "$@"', 'sh']). `cli` replaces the
   * agent from source with another edge-agent command (an installed release's bin/edge-agent).
   */
  constructor(
    configFile: string,
    extraArgs: string[] = [],
    env: NodeJS.ProcessEnv = {},
    wrapper: string[] = [],
    cli?: string,
  ) {
    const agent = cli ? [cli] : [process.execPath, ...unitNodeFlags(), ...agentCliArgs()];
    const argv = [...agent, 'run', '--config', configFile, ...extraArgs];
    const [command, ...args] = [...wrapper, ...argv];
    this.child = spawn(command!, args, {
      cwd: ROOT,
      env: agentEnv({
        EDGE_AGENT_LOG_LEVEL: 'debug',
        // An installed bin/edge-agent gets the unit's environment: NODE_OPTIONS, and the V8 flags
        // Node refuses there, which the launcher passes on.
        ...(cli
          ? {
              NODE_OPTIONS: unitEnvironment('NODE_OPTIONS'),
              EDGE_AGENT_NODE_FLAGS: unitEnvironment('EDGE_AGENT_NODE_FLAGS'),
            }
          : {}),
        ...env,
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => {
      const lines = (this.stdoutRest + chunk).split('\n');
      this.stdoutRest = lines.pop() ?? '';
      for (const line of lines) {
        if (/"component":.*"component":/.test(line)) this.linesWithTwoComponents += 1;
        try {
          this.records.push(JSON.parse(line) as LogRecord);
        } catch {
          this.records.push({ msg: line, level: 'raw' });
        }
      }
    });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Starts the agent with a config written to `<dir>/config.json`. */
  static start(dir: string, config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): AgentProcess {
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config, null, 2));
    return new AgentProcess(file, [], env);
  }

  /** Records whose message matches. */
  logs(msg: string | RegExp): LogRecord[] {
    return this.records.filter((r) => (typeof msg === 'string' ? r.msg === msg : msg.test(String(r.msg))));
  }

  /** Waits until `count` records with this message exist; returns them. */
  async waitLog(msg: string | RegExp, count = 1, timeoutMs = 30_000): Promise<LogRecord[]> {
    return this.waitCount(`log line(s) '${String(msg)}'`, () => this.logs(msg), count, timeoutMs);
  }

  /** The events delivered so far of one type, as the agent's consumers got them (its debug `event` records). */
  events<K extends AgentEventType>(type: K): Array<AgentEvent<K>> {
    return this.records.flatMap((r) => {
      const event = r.msg === 'event' ? (r.event as { type?: string } | undefined) : undefined;
      return event?.type === type ? [event as unknown as AgentEvent<K>] : [];
    });
  }

  /** Waits until `count` events of this type were delivered; returns them. */
  async waitEvent<K extends AgentEventType>(type: K, count = 1, timeoutMs = 30_000): Promise<Array<AgentEvent<K>>> {
    return this.waitCount(`${type} event(s)`, () => this.events(type), count, timeoutMs);
  }

  /** Polls `find` until it returns `count` or more; the agent exiting meanwhile fails the wait at once. */
  private async waitCount<T>(what: string, find: () => T[], count: number, timeoutMs: number): Promise<T[]> {
    return waitFor(
      `${count} ${what}`,
      () => {
        if (this.child.exitCode !== null)
          throw new Error(`agent exited (${this.child.exitCode}) while waiting for ${count} ${what}: ${this.stderr}`);
        const found = find();
        return found.length >= count ? found : null;
      },
      timeoutMs,
    );
  }

  /** SIGTERM and wait for the exit. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

/** Signals the FFmpeg of one run; refuses the pid 0 of a run that never got one, which would signal this test's own process group. */
export function signalRun(started: AgentEvent<'pipeline.started'>, signal: NodeJS.Signals): void {
  if (!(started.pid > 0)) throw new Error(`pipeline.started without an FFmpeg pid: ${JSON.stringify(started)}`);
  process.kill(started.pid, signal);
}

/** Process ids whose command line contains `needle` (to prove no FFmpeg is left behind). */
export async function pidsMatching(needle: string): Promise<number[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(needle) && Number(entry) !== process.pid) pids.push(Number(entry));
  }
  return pids;
}

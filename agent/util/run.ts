import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { setPriority } from 'node:os';
import path from 'node:path';
import { childEnv } from './childEnv.js';

/** What a finished command left behind. */
export interface RunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** True when the command was killed for running past its timeout. */
  timedOut: boolean;
}

/** Runs one program to completion; rejects only when it cannot be started (e.g. ENOENT). */
export type CommandRunner = (command: string, args: string[], opts?: RunOptions) => Promise<RunResult>;

/** Keep at most this much of each stream: v4l2-ctl and `ffmpeg -v error` say little, a runaway says a lot. */
const MAX_OUTPUT = 1 << 20;

/** How long a program may run and how much of its output is kept. */
export interface RunOptions {
  timeoutMs?: number;
  /** Stops the program (and what it started) when aborted, as a timeout does. */
  signal?: AbortSignal;
  /** Niceness: background work (analysis proxies) yields the CPU to the live pipeline. */
  priority?: number;
  /** Bytes of stdout kept (default 1 MiB); stderr keeps its last MiB. */
  maxOutputBytes?: number;
}

interface Collected {
  code: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
}

/**
 * Every program the agent and the device layer run goes through here. The child gets the
 * allow-listed environment and its own process group, so a timeout kills it and anything it
 * started (a hung FFmpeg on a stuck hardware encoder can ignore SIGTERM).
 */
function collect(command: string, args: string[], opts: RunOptions = {}): Promise<Collected> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    if (opts.priority !== undefined && child.pid) {
      try {
        setPriority(child.pid, opts.priority);
      } catch {
        // Not allowed to renice (some containers): it then runs at normal priority.
      }
    }
    const limit = opts.maxOutputBytes ?? MAX_OUTPUT;
    const chunks: Buffer[] = [];
    let kept = 0;
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => {
      if (kept >= limit) return;
      chunks.push(d.subarray(0, limit - kept));
      kept += Math.min(d.length, limit - kept);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-MAX_OUTPUT);
    });
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            killGroup(child.pid);
          }, opts.timeoutMs);
    const abort = () => killGroup(child.pid);
    opts.signal?.addEventListener('abort', abort, { once: true });
    if (opts.signal?.aborted) abort();
    const settle = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', abort);
    };
    child.on('error', (error) => {
      settle();
      reject(error);
    });
    child.on('close', (code, signal) => {
      settle();
      resolve({ code, signal, stdout: Buffer.concat(chunks), stderr, timedOut });
    });
  });
}

/** The real runner: resolves with whatever the program did; rejects only when it cannot start. */
export const runCommand: CommandRunner = async (command, args, opts = {}) => {
  const done = await collect(command, args, opts);
  return { ...done, stdout: done.stdout.toString('utf8') };
};

/** A program that did not exit 0: how it ended, and the end of what it wrote on stderr. */
export class CommandFailedError extends Error {
  constructor(
    readonly command: string,
    readonly result: { code: number | null; signal: string | null; timedOut: boolean; stderr: string },
    timeoutMs: number | undefined,
  ) {
    const how = result.timedOut
      ? `timed out after ${(timeoutMs ?? 0) / 1000} s`
      : result.signal
        ? `was killed (${result.signal})`
        : `exited ${result.code}`;
    const said = result.stderr.trim().split('\n').slice(-2).join(' ');
    super(`${path.basename(command)} ${how}${said ? `: ${said}` : ''}`);
    this.name = 'CommandFailedError';
  }

  get stderr(): string {
    return this.result.stderr;
  }
}

/** Runs a program that must succeed; its stdout as bytes. Throws CommandFailedError otherwise. */
export async function runCheckedBytes(
  command: string,
  args: string[],
  opts: RunOptions & { timeoutMs: number },
): Promise<Buffer> {
  const done = await collect(command, args, opts);
  if (done.code !== 0 || done.timedOut) throw new CommandFailedError(command, done, opts.timeoutMs);
  return done.stdout;
}

/** Runs a program that must succeed; its stdout as text. Throws CommandFailedError otherwise. */
export async function runChecked(
  command: string,
  args: string[],
  opts: RunOptions & { timeoutMs: number },
): Promise<string> {
  return (await runCheckedBytes(command, args, opts)).toString('utf8');
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** The full path of an executable found on PATH, or undefined. */
export function findOnPath(name: string, pathEnv = process.env.PATH ?? ''): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  for (const dir of pathEnv.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

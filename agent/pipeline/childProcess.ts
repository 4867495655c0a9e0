import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { once } from 'node:events';
import { childEnv } from '../util/childEnv.js';

/**
 * The lifeline shim. The child runs in its own process group with a watcher that blocks on a
 * socket only the agent holds: if the agent dies, even by kill -9, the socket closes and the
 * watcher stops the whole group, so no FFmpeg or producer is ever orphaned. A non-interactive
 * shell's background job ignores SIGINT, so the SIGINT of a clean stop reaches only the program.
 */
const SHIM =
  // SIGINT first so FFmpeg closes its files (losing nothing), then SIGKILL for whatever is stuck.
  // ($$ in the watcher is the program itself, which the shell became by exec.)
  '(cat <&5 >/dev/null; kill -s INT 0; for i in 1 2 3 4 5 6 7 8 9 10; do ' +
  'kill -0 $$ 2>/dev/null || exit 0; sleep 0.5; done; kill -s KILL 0) & exec 5<&-; ' +
  // A producer and FFmpeg meet at a named pipe the OS joins: frames never pass through Node.
  '[ -z "$EDGE_AGENT_STDIN" ] || exec <"$EDGE_AGENT_STDIN"; ' +
  '[ -z "$EDGE_AGENT_STDOUT" ] || exec >"$EDGE_AGENT_STDOUT"; ' +
  'exec "$@"';

/** How a supervised child ended. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Options for one supervised child. */
export interface SupervisedSpawnOptions {
  command: string;
  args: string[];
  /** A named pipe to read as stdin (FFmpeg reading a producer), or nothing. */
  stdinPath?: string;
  /** A named pipe to write stdout to (a capture producer), instead of a pipe to the agent. */
  stdoutPath?: string;
  /** Also open fd 3 as a pipe (the motion frames). */
  extraPipe?: boolean;
  /** Also open fd 4 as a pipe (the live view's fragmented MP4). */
  livePipe?: boolean;
  /** The child's environment; childEnv() (the allow-list, never the agent's own) when not given. */
  env?: NodeJS.ProcessEnv;
  /** How many bytes of stderr to keep for error reports. */
  stderrTailBytes?: number;
}

/** A child in its own process group, tied to the agent's life, with the tail of its stderr kept. */
export class SupervisedChild {
  readonly process: ChildProcess;
  readonly exited: Promise<ChildExit>;
  private tail = '';
  private readonly tailBytes: number;

  constructor(options: SupervisedSpawnOptions) {
    this.tailBytes = options.stderrTailBytes ?? 4096;
    const stdio: StdioOptions = [
      'ignore',
      'pipe',
      'pipe',
      options.extraPipe ? 'pipe' : 'ignore',
      options.livePipe ? 'pipe' : 'ignore',
      'pipe',
    ];
    this.process = spawn('/bin/sh', ['-c', SHIM, 'edge-agent-child', options.command, ...options.args], {
      detached: true,
      stdio,
      env: {
        ...(options.env ?? childEnv()),
        EDGE_AGENT_STDIN: options.stdinPath ?? '',
        EDGE_AGENT_STDOUT: options.stdoutPath ?? '',
      },
    });
    this.process.stderr?.setEncoding('utf8');
    this.process.stderr?.on('data', (chunk: string) => {
      this.tail = (this.tail + chunk).slice(-this.tailBytes);
    });
    this.exited = new Promise((resolve) => {
      this.process.once('error', (error) => {
        this.tail += `\n${error.message}`;
        resolve({ code: null, signal: null });
      });
      this.process.once('exit', (code, signal) => {
        // The program is gone; only the watcher (and maybe a stray grandchild) is left: end them now.
        this.killGroup();
        this.lifeline()?.destroy();
        resolve({ code, signal });
      });
    });
  }

  /** Process id, which is also the process group id. */
  get pid(): number | undefined {
    return this.process.pid;
  }

  /** The last few KB of stderr. */
  stderrTail(): string {
    return this.tail;
  }

  /** Sends a signal to the program itself (not the watcher). */
  signal(signal: NodeJS.Signals): void {
    if (this.process.exitCode !== null || this.process.signalCode !== null || !this.process.pid) return;
    try {
      process.kill(this.process.pid, signal);
    } catch {
      // Already gone between the check and the kill.
    }
  }

  /**
   * Asks the program to finish (SIGINT lets FFmpeg close its files), then SIGKILLs the whole group
   * after the grace period.
   */
  async stop(graceMs: number, signal: NodeJS.Signals = 'SIGINT'): Promise<ChildExit> {
    this.signal(signal);
    const timer = setTimeout(() => this.killGroup(), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
      this.lifeline()?.destroy();
    }
  }

  /** SIGKILL to the program and everything in its group. */
  killGroup(): void {
    if (!this.process.pid) return;
    try {
      process.kill(-this.process.pid, 'SIGKILL');
    } catch {
      // The group is already empty.
    }
  }

  private lifeline(): { destroy(): void } | undefined {
    return (this.process.stdio as unknown[])[5] as { destroy(): void } | undefined;
  }
}

/** Resolves once `child` has spawned, or rejects with the spawn error. */
export async function spawned(child: SupervisedChild): Promise<void> {
  await once(child.process, 'spawn');
}

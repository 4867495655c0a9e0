/**
 * One emulated board for test/board: a cached Debian rootfs booted by systemd-nspawn with real
 * systemd as PID 1 (test/board/boot.sh), driven through nsenter. Every board started here is
 * stopped (powered off, unmounted, cgroups removed) at process exit, even after a failure.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const here = import.meta.dirname;
export const repo = resolve(here, '../..');
export const cache = process.env.EDGE_AGENT_BOARD_CACHE || '/var/cache/edge-agent-board';
const BOOT = join(here, 'boot.sh');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to its end (asynchronously, so timers and MQTT keep running). */
export function run(
  cmd: string,
  args: string[],
  options: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  const started = Date.now();
  return new Promise((resolveRun) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${options.timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 300_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr, ms: Date.now() - started });
    });
    // A command that exits without reading its input (a fast failure) closes the pipe: its exit
    // code and stderr tell what happened, not an EPIPE thrown into the test.
    child.stdin.on('error', (error) => (stderr += `\n[stdin: ${error.message}]`));
    child.stdin.end(options.input ?? '');
  });
}

/**
 * `probe` as a waitFor check on a board that is booting or restarting: a probe that throws
 * (connection refused, a failed exec) means "not yet" there, not a failed test.
 */
export function notYetOnError<T>(probe: () => Promise<T | undefined>): () => Promise<T | undefined> {
  return () => probe().catch(() => undefined);
}

const live = new Set<string>();
function stopAllSync(): void {
  for (const dir of live) {
    spawnSync(BOOT, ['stop', dir], { stdio: 'inherit' });
    live.delete(dir);
  }
}
process.once('exit', stopAllSync);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    stopAllSync();
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
  });
}

export class Board {
  /** The board's PID 1 as the host sees it. */
  leader = 0;
  bootMs = 0;
  private constructor(
    readonly arch: string,
    readonly dir: string,
  ) {}

  /** Unpacks the cached rootfs (built first if missing) and boots it; `nspawnArgs` e.g. --tmpfs=/mnt/ssd. */
  static async boot(arch: string, nspawnArgs: string[] = []): Promise<Board> {
    mkdirSync(join(cache, 'run'), { recursive: true });
    const dir = mkdtempSync(join(cache, 'run', `${arch}-`));
    const board = new Board(arch, dir);
    live.add(dir);
    const r = await run(BOOT, ['start', dir, '--arch', arch, '--', ...nspawnArgs], { timeoutMs: 3_600_000 });
    if (r.code !== 0) throw new Error(`boot.sh start failed (${r.code}):\n${r.stderr}`);
    board.leader = Number(r.stdout.trim().split('\n').pop());
    board.bootMs = r.ms;
    return board;
  }

  /** A path inside the board's root as seen from the host (mounts made inside are not visible). */
  path(p: string): string {
    return join(this.dir, 'root', p);
  }

  /** Runs a command inside the board (root, all its namespaces). */
  exec(args: string[], options: { timeoutMs?: number; input?: string } = {}): Promise<Run> {
    return run(BOOT, ['exec', this.dir, '--', ...args], options);
  }

  /** Runs a shell script inside the board. */
  sh(script: string, options: { timeoutMs?: number } = {}): Promise<Run> {
    return this.exec(['bash', '-c', script], options);
  }

  /** `systemctl show edge-agent -p …` as an object. */
  async unit(...props: string[]): Promise<Record<string, string>> {
    const r = await this.exec(['systemctl', 'show', 'edge-agent.service', ...props.flatMap((p) => ['-p', p])]);
    const out: Record<string, string> = {};
    for (const line of r.stdout.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
    }
    return out;
  }

  /** The unit's journal since the board booted. */
  async journal(unit = 'edge-agent.service'): Promise<string> {
    return (await this.exec(['journalctl', '-u', unit, '-b', '--no-pager', '-o', 'short-monotonic'])).stdout;
  }

  /** Powers off, unmounts, removes the work folder and nspawn's cgroup leftovers. */
  async stop(): Promise<Run> {
    const r = await run(BOOT, ['stop', this.dir], { timeoutMs: 120_000 });
    live.delete(this.dir);
    return r;
  }
}

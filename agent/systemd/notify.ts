/**
 * systemd's notify protocol (sd_notify) without building a native module on the board.
 *
 * Why this way: the message must be a datagram on the AF_UNIX socket in NOTIFY_SOCKET, and
 * Node has no unix datagram sockets. Choices and what decided:
 * - `node-unix-socket` (N-API, prebuilt per platform, loaded in-process): the sender is the
 *   main PID, so the unit can keep `NotifyAccess=main`. Used whenever it loads, but not a
 *   dependency: its per-platform prebuilt packages are missing from the registry we install
 *   from (arm64/armv7 404), so `npm ci` could not lock them. Install it by hand on a board to
 *   use it.
 * - `systemd-notify` via a child process: rejected. It forks per message and exits at once;
 *   before systemd 246 (JetPack 5 ships 245) PID 1 often reads the datagram after the sender
 *   is gone, cannot map it to our cgroup and drops it — a missed WATCHDOG=1 kills the agent.
 * - Fallback here: one long-lived `perl` helper (perl-base is Essential on Debian, Raspberry Pi
 *   OS and Ubuntu/JetPack, and its Socket module can send unix datagrams). It stays alive, so
 *   PID 1 always finds its cgroup, on any systemd version. It is not the main PID, so it needs
 *   `NotifyAccess=all`: deploy/install.sh adds that drop-in only when node-unix-socket does not
 *   load on the board.
 * `sd-notify` and `unix-dgram` compile with node-gyp at install: not wanted on a board.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { childEnv } from '../util/childEnv.js';

/** Sends one sd_notify datagram (`KEY=VALUE` lines). */
export interface NotifyTransport {
  readonly name: string;
  send(message: string): Promise<void>;
  close(): void;
}

interface DgramSocketLike {
  on(event: 'error', fn: (error: Error) => void): unknown;
  sendTo(buf: Buffer, offset: number, length: number, path: string, cb?: (error?: Error) => void): void;
  close(): void;
}
type DgramCtor = new () => DgramSocketLike;

/** Loads node-unix-socket's DgramSocket, or null when its prebuilt binary is absent here. */
export function loadDgramSocket(): DgramCtor | null {
  try {
    const require = createRequire(import.meta.url);
    return (require('node-unix-socket') as { DgramSocket: DgramCtor }).DgramSocket;
  } catch {
    return null;
  }
}

/** In-process sender: a fresh socket per message, closed at once (an open one keeps Node's loop alive). */
export class DgramTransport implements NotifyTransport {
  readonly name = 'node-unix-socket';
  constructor(
    private readonly Dgram: DgramCtor,
    private readonly path: string,
  ) {}

  send(message: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.path.startsWith('@'))
        return reject(new Error('node-unix-socket cannot address abstract sockets exactly'));
      const socket = new this.Dgram();
      socket.on('error', reject);
      const buf = Buffer.from(message);
      socket.sendTo(buf, 0, buf.length, this.path, (error) => {
        socket.close();
        if (error) reject(error);
        else resolve();
      });
    });
  }

  close(): void {}
}

// One datagram per stdin line; a tab stands for the newline between KEY=VALUE assignments.
const PERL_SENDER = [
  'use Socket; my $p = shift; $p =~ s/^@/\\0/; $| = 1;',
  // sockaddr_un built by hand: pack_sockaddr_un pads with NULs, which changes an abstract name.
  'socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!\\n"; my $a = pack("S", AF_UNIX) . $p;',
  'while (my $l = <STDIN>) { chomp $l; $l =~ tr/\\t/\\n/; send($s, $l, 0, $a) or warn "send: $!\\n"; }',
].join(' ');

/** Fallback sender: one long-lived perl helper (see the file comment for why not systemd-notify). */
export class PerlTransport implements NotifyTransport {
  readonly name = 'perl';
  private child: ChildProcess | null = null;
  constructor(
    private readonly path: string,
    private readonly perl = 'perl',
  ) {}

  send(message: string): Promise<void> {
    const child = this.helper();
    const line = `${message.split('\n').join('\t')}\n`;
    return new Promise((resolve, reject) => {
      if (!child.stdin || child.exitCode !== null) return reject(new Error('notify helper is not running'));
      child.stdin.write(line, (error) => (error ? reject(error) : resolve()));
    });
  }

  close(): void {
    this.child?.stdin?.end();
    this.child = null;
  }

  private helper(): ChildProcess {
    if (this.child && this.child.exitCode === null) return this.child;
    const child = spawn(this.perl, ['-e', PERL_SENDER, this.path], {
      env: childEnv(),
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    child.on('error', () => {}); // a missing perl surfaces as a failed write, reported by the notifier
    child.stdin?.on('error', () => {});
    // The helper must never keep the agent alive on its own.
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    this.child = child;
    return child;
  }
}

/**
 * Picks the in-process sender when node-unix-socket loads, else the perl helper. An abstract
 * `@name` always goes to perl: node-unix-socket pads abstract addresses with NULs to the full
 * sun_path (measured), so it reaches a different name than the exact-length one systemd binds.
 */
export function chooseTransport(path: string, load: () => DgramCtor | null = loadDgramSocket): NotifyTransport {
  const Dgram = path.startsWith('@') ? null : load();
  return Dgram ? new DgramTransport(Dgram, path) : new PerlTransport(path);
}

/** One line of free text for STATUS=: newlines and tabs would split the message. */
function oneLine(text: string): string {
  return text.replace(/[\t\r\n]+/g, ' ').slice(0, 400);
}

/** Tells systemd about the agent's life; every method is a no-op when NOTIFY_SOCKET is unset. */
export class SystemdNotifier {
  private readonly transport: NotifyTransport | null;
  private readonly log: Logger | undefined;
  private failedOnce = false;

  constructor(deps: { env?: NodeJS.ProcessEnv; transport?: NotifyTransport; log?: Logger } = {}) {
    const path = (deps.env ?? process.env).NOTIFY_SOCKET;
    this.transport = path ? (deps.transport ?? chooseTransport(path)) : null;
    this.log = deps.log;
  }

  /** True when running under systemd with Type=notify. */
  get enabled(): boolean {
    return this.transport !== null;
  }

  /** Which sender is in use (`node-unix-socket`, `perl`), or null when disabled. */
  get transportName(): string | null {
    return this.transport?.name ?? null;
  }

  /** Startup finished: systemd considers the unit started. */
  ready(status?: string): Promise<void> {
    return this.send(status === undefined ? 'READY=1' : `READY=1\nSTATUS=${oneLine(status)}`);
  }

  /** Keep-alive for WatchdogSec=. */
  watchdog(): Promise<void> {
    return this.send('WATCHDOG=1');
  }

  /** Free text shown by `systemctl status`. */
  status(text: string): Promise<void> {
    return this.send(`STATUS=${oneLine(text)}`);
  }

  /** The agent is shutting down (so a slow stop is not mistaken for a hang). */
  stopping(): Promise<void> {
    return this.send('STOPPING=1');
  }

  /** Releases the sender (ends the perl helper if one runs). */
  close(): void {
    this.transport?.close();
  }

  private async send(message: string): Promise<void> {
    if (!this.transport) return;
    try {
      await this.transport.send(message);
    } catch (error) {
      // Never throw into the caller: a notify failure must not stop the agent. Log once, not every 15 s.
      if (!this.failedOnce) this.log?.warn({ err: error, transport: this.transport.name }, 'systemd notify failed');
      this.failedOnce = true;
    }
  }
}

/**
 * How often to send WATCHDOG=1: half of WATCHDOG_USEC (as sd_watchdog_enabled advises), or null
 * when the watchdog is off or meant for another process (WATCHDOG_PID names someone else).
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}

/** What the watchdog petter needs. */
export interface WatchdogPetterDeps {
  notifier: Pick<SystemdNotifier, 'watchdog'>;
  clock: Clock;
  /** True while the main loop is alive and every pipeline produces frames. */
  isHealthy: () => boolean;
  /** Defaults to watchdogIntervalMs(); null disables the petter. */
  intervalMs?: number | null;
  log?: Logger;
}

/**
 * Sends WATCHDOG=1 every interval, but only while isHealthy() holds: a stuck agent (a blocked
 * event loop, a supervisor past its liveness bound) stops the pings, and systemd restarts the
 * unit after WatchdogSec=.
 */
export class WatchdogPetter {
  private timer: NodeJS.Timeout | null = null;
  private healthy = true;
  private readonly intervalMs: number | null;

  constructor(private readonly deps: WatchdogPetterDeps) {
    this.intervalMs = deps.intervalMs === undefined ? watchdogIntervalMs() : deps.intervalMs;
  }

  /** Starts pinging (a first ping at once if healthy); no-op without a watchdog. */
  start(): void {
    if (this.intervalMs === null || this.timer) return;
    this.tick();
  }

  /** Stops pinging. */
  stop(): void {
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private tick(): void {
    const healthy = this.safeIsHealthy();
    if (healthy) void this.deps.notifier.watchdog();
    if (healthy !== this.healthy) {
      // Logged on the change only, so the journal says why systemd is about to restart us.
      if (healthy) this.deps.log?.info('healthy again: watchdog pings resumed');
      else this.deps.log?.warn('unhealthy: withholding watchdog pings, systemd will restart the agent');
      this.healthy = healthy;
    }
    this.timer = this.deps.clock.setTimeout(() => this.tick(), this.intervalMs as number);
    this.timer?.unref?.();
  }

  private safeIsHealthy(): boolean {
    try {
      return this.deps.isHealthy();
    } catch {
      return false;
    }
  }
}

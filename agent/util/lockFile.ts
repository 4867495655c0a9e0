/**
 * One agent per board: two would record over each other's partial recordings, and two MQTT
 * clients with one client id kick each other off forever. The agent holds `<dataDir>/agent.lock`
 * (pid and boot id inside) from before anything records until it has stopped.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { AgentError } from '../contract/errors.js';

/** What the lock needs. */
export interface LockFileDeps {
  path: string;
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the pid exists but belongs to someone else; still a live holder.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** An exclusive lock file; a stale lock (dead pid, or written before the last reboot) is taken over. */
export class LockFile {
  private held = false;

  constructor(private readonly deps: LockFileDeps) {}

  /** Takes the lock or throws AgentError naming the pid that holds it. */
  acquire(): void {
    mkdirSync(dirname(this.deps.path), { recursive: true });
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        const fd = openSync(this.deps.path, 'wx', 0o644);
        writeSync(fd, `${process.pid}\n${bootId()}\n`);
        closeSync(fd);
        this.held = true;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = this.holder();
      if (holder !== null && holder !== process.pid) {
        throw new AgentError(
          'internal',
          `another agent (pid ${holder}) is running with this data dir: ${this.deps.path}`,
        );
      }
      rmSync(this.deps.path, { force: true });
    }
    throw new AgentError('internal', `could not take the lock ${this.deps.path}`);
  }

  /** Releases the lock if this process holds it. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    if (this.holder() === process.pid) rmSync(this.deps.path, { force: true });
  }

  /** The live pid holding the lock, or null when the lock is absent or stale. */
  private holder(): number | null {
    let text: string;
    try {
      text = readFileSync(this.deps.path, 'utf8');
    } catch {
      return null;
    }
    const [pidText = '', boot = ''] = text.split('\n');
    const pid = Number.parseInt(pidText, 10);
    if (!Number.isInteger(pid) || pid <= 0) return null;
    // After a reboot the old pid may belong to an unrelated process.
    if (boot.trim() !== bootId()) return null;
    return alive(pid) ? pid : null;
  }
}

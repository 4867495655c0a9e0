/** deploy/install.sh run in a throwaway root (--root), for the installer tests. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Test } from 'tap';
import { ROOT } from './agentProcess.js';

const installer = join(ROOT, 'deploy/install.sh');

/** Whether `cmd` is on the PATH. */
export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** A throwaway root and a `run(...args)` of install.sh against it (no apt; `bin` first on the PATH). */
export function installerSandbox(t: Test) {
  const dir = t.testdir({ root: {}, bin: {} });
  const bin = join(dir, 'bin');
  const root = join(dir, 'root');
  const run = (...args: string[]) => {
    const r = spawnSync('bash', [installer, '--root', root, '--no-apt', ...args], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      encoding: 'utf8',
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  return { dir, root, bin, run };
}

/** Asserts install.sh exited 0, showing its output when it did not. */
export function exitsZero(t: Test, r: { code: number | null; out: string; err: string }): void {
  t.equal(r.code, 0, 'installer exits 0', { stdout: r.out, stderr: r.err });
}

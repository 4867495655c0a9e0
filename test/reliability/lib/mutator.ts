/**
 * An outside mutation fuzzer, so the bad input is not only what our own generators think of:
 * radamsa (structure-aware: repeats, drops and swaps bytes, lines and numbers) when installed,
 * else zzuf (Debian's bit-flipping fuzzer; Debian 12 has no radamsa package). Both are seeded, so
 * a failing case replays from the seed in the report.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A fuzzer found on PATH. */
export interface Mutator {
  name: 'radamsa' | 'zzuf';
  version: string;
  /** `count` mutations of `sample`, reproducible from `seed`. */
  mutate(sample: Buffer, count: number, seed: number): Buffer[];
}

// Radamsa can make a 64-byte sample into megabytes; the inputs we test have their own limits well below.
const MAX_BYTES = 1 << 20;

function has(program: string): boolean {
  return spawnSync(program, ['--help'], { stdio: 'ignore' }).error === undefined;
}

function version(program: string): string {
  const r = spawnSync(program, ['-V'], { encoding: 'utf8' });
  return (
    `${r.stdout}${r.stderr}`
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim() ?? program
  );
}

const radamsa: Mutator = {
  name: 'radamsa',
  version: '',
  mutate(sample, count, seed) {
    const dir = mkdtempSync(path.join(tmpdir(), 'radamsa-'));
    try {
      writeFileSync(path.join(dir, 'sample'), sample);
      const r = spawnSync(
        'radamsa',
        ['-s', String(seed), '-n', String(count), '-o', path.join(dir, 'out-%n'), path.join(dir, 'sample')],
        { timeout: 60_000 },
      );
      if (r.status !== 0) throw new Error(`radamsa failed: ${r.stderr?.toString() ?? r.error?.message}`);
      return readdirSync(dir)
        .filter((n) => n.startsWith('out-'))
        .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)))
        .map((n) => readFileSync(path.join(dir, n)).subarray(0, MAX_BYTES));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

const zzuf: Mutator = {
  name: 'zzuf',
  version: '',
  mutate(sample, count, seed) {
    // zzuf flips bits and never changes the length: one run over copies of the sample end to end
    // gives one mutation per copy (a process per mutation cost 20 ms each).
    const ratios = [0.0002, 0.001, 0.004, 0.01, 0.03]; // one flipped bit in 5,000 to one in 33
    const out: Buffer[] = [];
    for (const [k, ratio] of ratios.entries()) {
      const copies = Math.ceil((count - out.length) / (ratios.length - k));
      if (copies === 0 || sample.length === 0) continue;
      const r = spawnSync('zzuf', ['-s', String(seed + k), '-r', String(ratio)], {
        input: Buffer.concat(Array(copies).fill(sample)),
        timeout: 10_000,
        maxBuffer: 64 << 20,
      });
      if (r.status !== 0) throw new Error(`zzuf failed: ${r.stderr?.toString() ?? r.error?.message}`);
      for (let i = 0; i < copies; i += 1) out.push(r.stdout.subarray(i * sample.length, (i + 1) * sample.length));
    }
    return out.slice(0, count);
  },
};

/** radamsa, else zzuf, else null (the tests then skip, saying so). */
export function findMutator(): Mutator | null {
  for (const m of [radamsa, zzuf]) if (has(m.name)) return { ...m, version: version(m.name) };
  return null;
}

/** Why the outside fuzz test skips when it does. */
export const NO_MUTATOR =
  'neither radamsa nor zzuf is installed: run test/setup-machine.sh (zzuf from Debian; radamsa where the archive has it)';

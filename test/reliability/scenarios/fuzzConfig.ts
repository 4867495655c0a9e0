/**
 * 1,000 fuzzed config files through `edge-agent config check`, in-process (the CLI's own
 * function, not 1,000 processes): JSON-level mutations of a valid config (wrong types, huge and
 * negative numbers, unknown and prototype keys, duplicate camera ids, deleted keys) and
 * text-level ones (truncated, bit flips, deep nesting, BOM, comments). Expected: never a throw,
 * exit 0 or 2, and every problem line says something about a named key or the file.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { testConfig } from '../../helpers/agentProcess.js';
import { Prng } from '../lib/prng.js';
import { recordResult } from '../lib/results.js';
import { configCheck } from './setConfigKill.js';

const WEIRD: unknown[] = [
  0,
  -1,
  1e308,
  -1e308,
  0.5,
  2 ** 53,
  '',
  ' ',
  'x'.repeat(10_000),
  '../../etc/passwd',
  '\u0000',
  '\u{1f600}',
  true,
  false,
  null,
  [],
  {},
  [1, 'a', null],
  { nested: { deeper: [{}] } },
  'embedded',
  'auto',
  '127.0.0.1:99999',
  '30s',
];

function paths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

function setAt(root: Record<string, unknown>, p: Array<string | number>, value: unknown, remove: boolean): void {
  let node = root as Record<string | number, unknown>;
  for (const key of p.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = p.at(-1)!;
  if (remove) delete node[last];
  // defineProperty: a key named __proto__ becomes an own key (as JSON.parse makes it), not a prototype.
  else
    Object.defineProperty(node, last, {
      value: structuredClone(value),
      enumerable: true,
      writable: true,
      configurable: true,
    });
}

function mutate(rng: Prng, base: Record<string, unknown>): string {
  const config = structuredClone(base);
  for (let n = rng.int(1, 4); n > 0; n -= 1) {
    const all = paths(config).filter((p) => p.length > 0);
    const p = rng.pick(all);
    const op = rng.int(0, 5);
    if (op === 0) setAt(config, p, undefined, true);
    else if (op === 1)
      setAt(
        config,
        [...p.slice(0, -1), rng.pick(['unknownKey', '__proto__', 'constructor', 'prototype', rng.string(6)])],
        rng.pick(WEIRD),
        false,
      );
    else if (op === 2 && Array.isArray(config.cameras))
      (config.cameras as unknown[]).push(structuredClone((config.cameras as unknown[])[0] ?? {}));
    else setAt(config, p, rng.pick(WEIRD), false);
  }
  let text = JSON.stringify(config, null, rng.chance(0.5) ? 2 : 0);
  if (text.includes('"__proto__"') || rng.chance(0.1)) text = text.replace('{', '{"__proto__": {"polluted": true}, ');
  const roll = rng.next();
  if (roll < 0.05) text = text.slice(0, rng.int(0, text.length));
  else if (roll < 0.1) {
    const chars = [...text];
    for (let k = rng.int(1, 5); k > 0; k -= 1)
      chars[rng.int(0, chars.length - 1)] = String.fromCharCode(rng.int(0, 255));
    text = chars.join('');
  } else if (roll < 0.12) text = `${'['.repeat(rng.int(1000, 20_000))}${']'.repeat(rng.int(0, 20_000))}`;
  else if (roll < 0.14) text = `\ufeff${text}`;
  else if (roll < 0.16) text = `// comment\n${text}`;
  else if (roll < 0.17) text = '';
  else if (roll < 0.18) text = JSON.stringify(rng.pick([null, 1, 'x', [], true]));
  return text;
}

export async function fuzzConfig(
  t: Test,
  options: { count: number; mode: 'ci' | 'long'; seed?: number },
): Promise<void> {
  const seed = options.seed ?? 1000;
  const rng = new Prng(seed);
  const dir = t.testdir();
  const base = testConfig(dir);
  const file = path.join(dir, 'fuzzed.json');
  let valid = 0;
  let invalid = 0;
  let slowest = 0;
  const unclear: string[] = [];
  const crashes: string[] = [];
  for (let i = 0; i < options.count; i += 1) {
    const text = mutate(rng, base);
    writeFileSync(file, text);
    const started = performance.now();
    try {
      const { code, out } = await configCheck(file);
      slowest = Math.max(slowest, performance.now() - started);
      if (code === 0) valid += 1;
      else if (code === 2) {
        invalid += 1;
        const lines = out.trim().split('\n');
        // Clear: each line names a key or the file, and never leaks an internal placeholder.
        for (const line of lines) {
          if (line.trim() === '' || /undefined|\[object Object\]|NaN/.test(line) || !/[a-z]+(\.|\[|\]|\b)/.test(line))
            unclear.push(`#${i}: ${line.slice(0, 160)}`);
        }
      } else crashes.push(`#${i}: exit ${code}`);
    } catch (error) {
      crashes.push(`#${i}: threw ${(error as Error).message.slice(0, 160)} for ${text.slice(0, 80)}`);
    }
  }
  t.same(crashes, [], `config check never threw on ${options.count} fuzzed files`);
  t.same(unclear.slice(0, 20), [], 'every problem line is a clear sentence naming the key');
  t.equal(({} as { polluted?: unknown }).polluted, undefined, 'Object.prototype not polluted');
  t.ok(slowest < 2000, `slowest check ${slowest.toFixed(0)} ms`);
  recordResult(
    {
      id: 'k-fuzz-config',
      scenario: 'fuzzed config files through `config check` (in-process)',
      mode: options.mode,
      tried: `${options.count} files (seed ${seed})`,
      lost: crashes.length === 0 ? 'nothing: no crash' : `${crashes.length} crashes`,
      notes: `${invalid} refused with exit 2, ${valid} valid; ${unclear.length} unclear lines; slowest ${slowest.toFixed(0)} ms`,
    },
    t.passing(),
  );
}

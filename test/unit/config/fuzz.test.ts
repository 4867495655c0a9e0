import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ConfigError } from '../../../agent/contract/errors.js';
import { loadConfig } from '../../../agent/config/load.js';
import { schemaLeaves } from '../../../agent/config/schema.js';
import { validateConfig } from '../../../agent/config/validate.js';

/** mulberry32: a tiny seeded PRNG, so a failing case can be replayed from its index. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const STRINGS = [
  '',
  'auto',
  'test',
  'embedded',
  'csi',
  'csi:0',
  'v4l2:/dev/video0',
  'v4l2:',
  'rtsp://u:p@cam/s',
  'http://x',
  'file:',
  'mqtt://broker:1883',
  'wss://b',
  '/abs/path',
  'rel/path',
  '0.0.0.0:8080',
  '127.0.0.1:0',
  '[::1]:99999',
  'libx264',
  '__proto__',
  'constructor',
  'a\nb',
  '\u0000',
  'é',
  '💥',
  'x'.repeat(300),
  '{"a":1}',
  '1e400',
  'null',
  'true',
];
const KEYS = [
  ...new Set([...schemaLeaves().keys()].flatMap((k) => k.split('.'))),
  'id',
  'source',
  'width',
  'height',
  'fps',
  '__proto__',
  'constructor',
  'prototype',
  'x',
  '',
];

function generator(rand: () => number) {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const value = (depth: number): unknown => {
    const r = rand();
    if (r < 0.15) return Math.floor(rand() * 5000) - 100;
    if (r < 0.2) return pick([0, -1, 1.5, 1e308, -0, 2 ** 53, 16, 4096, 120, 600]);
    if (r < 0.4) return pick(STRINGS);
    if (r < 0.47) return rand() < 0.5;
    if (r < 0.55) return null;
    if (depth > 3) return pick(STRINGS);
    if (r < 0.75) return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
    return object(depth + 1);
  };
  const object = (depth: number): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    const n = Math.floor(rand() * 5);
    for (let i = 0; i < n; i++)
      Object.defineProperty(out, pick(KEYS), {
        value: value(depth),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return out;
  };
  /** A config shaped like the real one, with random values and stray keys mixed in. */
  const config = (): unknown => {
    if (rand() < 0.05) return value(0);
    const out: Record<string, unknown> = {};
    // Mostly plausible: a key is usually left out or given its default, sometimes anything at all.
    const wild = rand() < 0.5 ? 0.3 : 0.02;
    for (const [key, leaf] of schemaLeaves()) {
      if (rand() < 0.6) continue;
      const v = rand() < wild ? value(1) : structuredClone(leaf.default);
      const [a, b] = key.split('.') as [string, string | undefined];
      if (b === undefined) out[a] = v;
      else if (rand() < 0.01) out[a] = value(1);
      else out[a] = { ...(out[a] as object), [b]: v };
    }
    if (rand() < 0.15)
      out.cameras = Array.from({ length: Math.floor(rand() * 3) }, () => ({
        id: pick(['cam1', 'a', 'A', '-x']),
        source: pick(STRINGS),
        width: value(2),
        fps: value(2),
        ...(rand() < 0.2 ? object(2) : {}),
      }));
    if (rand() < 0.05) Object.assign(out, object(1));
    return out;
  };
  const text = (): string => {
    const json = JSON.stringify(config()) ?? 'null';
    const r = rand();
    if (r < 0.08) return json.slice(0, Math.floor(rand() * json.length)); // a half-written file
    if (r < 0.12) return json.replace(/[,:]/, pick(['', ';', '::', ',,']));
    if (r < 0.14) return `\uFEFF${json}`;
    return json;
  };
  const sets = (): string[] =>
    rand() < 0.8
      ? []
      : Array.from(
          { length: 1 + Math.floor(rand() * 3) },
          () =>
            `${pick([...schemaLeaves().keys(), 'cameras[0].fps', 'cameras.1.id', 'x.y', '__proto__.a', 'a..b', ''])}${rand() < 0.9 ? '=' : ''}${pick(STRINGS)}`,
        );
  return { text, sets };
}

t.test('1,000 random config files: a config or a ConfigError, nothing else', async (t) => {
  const dir = t.testdir({});
  // FUZZ_SEED explores other cases locally; the committed run stays reproducible.
  const gen = generator(prng(Number(process.env.FUZZ_SEED ?? 0xed6e)));
  let valid = 0;
  let invalid = 0;
  for (let i = 0; i < 1000; i++) {
    const file = path.join(dir, `c${i}.json`);
    writeFileSync(file, gen.text());
    const sets = gen.sets();
    try {
      const { config } = loadConfig({ file, sets, env: {} });
      validateConfig(config); // what loading accepts, validation accepts again unchanged
      valid++;
    } catch (error) {
      if (!(error instanceof ConfigError)) {
        t.fail(`case ${i} threw ${String(error)}`);
        continue;
      }
      invalid++;
      const bad = error.problems.filter((line) => line === '' || /[\n\r]/.test(line) || /^[A-Z]/.test(line));
      if (error.problems.length === 0 || bad.length > 0)
        t.fail(`case ${i}: problems must be non-empty single lower-case lines`, { problems: error.problems });
    }
  }
  t.equal(valid + invalid, 1000);
  t.ok(valid > 0 && invalid > 0, `both outcomes seen (${valid} valid, ${invalid} invalid)`);
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted');
  t.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'x'), false);
});

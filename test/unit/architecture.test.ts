/**
 * The layering, read from the import lines of agent/ and device/: no module cycles, the device
 * layer imports nothing of the agent but leaf utilities, and a feature folder imports another
 * feature only where the table below says so (and why). A new cross-feature import is a design decision: add it here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ROOT } from '../helpers/agentProcess.js';

/** Every import of one source file: the target (relative to ROOT) and whether it is type-only. */
interface Import {
  from: string;
  to: string;
  typeOnly: boolean;
}

const IMPORT =
  /(?:^|\n)\s*(import|export)(\s+type)?\s[^'";]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function sources(dir: string): string[] {
  return (readdirSync(path.join(ROOT, dir), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(dir, f));
}

function importsOf(file: string): Import[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const found: Import[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[3] ?? m[4]!;
    if (!spec.startsWith('.')) continue;
    const to = path.normalize(path.join(path.dirname(file), spec)).replace(/\.js$/, '.ts');
    found.push({ from: file, to, typeOnly: Boolean(m[2]) });
  }
  return found;
}

/** The feature folder a file belongs to: `agent/link`, `device/sources`; files at a layer's top are the layer itself. */
function feature(file: string): string {
  const parts = file.split(path.sep);
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

// Shared by every feature: the contract (types, topics, errors, ids) and small utilities.
const SHARED = new Set(['agent/contract', 'agent/util']);

/** Which feature may import which other feature, with the reason. `agent` (its top files) builds everything. */
const ALLOWED: Record<string, Record<string, string>> = {
  'agent/analysis': {
    'agent/archive': 'archive names',
    'agent/config': 'its config slice',
    'agent/store': 'the durable job queue',
  },
  'agent/archive': { 'agent/config': 'its config slice', 'agent/store': 'the announced-archives ledger' },
  'agent/cli': {
    'agent/config': 'loads and checks config',
    'agent/doctor': 'runs the checks',
    'agent/fleet': 'fleet rollout|rollback|status',
    'agent/link': 'fleet signs desired releases as the agent checks them',
    device: 'probe lists cameras and the board',
    'device/encoders': 'probe',
  },
  'agent/commands': { 'agent/config': 'AgentConfig in get-config' },
  'agent/config': {
    'device/encoders': 'validates encoder names against the ladder',
    device: 'the encode settings shape (encodeSettings)',
  },
  'agent/doctor': {
    'agent/config': 'reads the config it checks',
    'agent/link': 'the broker logins and TLS files, read as the link reads them',
    device: 'board, cameras, sensors',
    'device/encoders': 'encoder probe',
  },
  'agent/health': { 'agent/config': 'its config slice', device: 'board sensors' },
  'agent/http': { 'agent/config': 'its config slice' },
  'agent/link': {
    'agent/commands': 'routes commands to their handlers',
    'agent/config': 'its config slice and credentials',
    'agent/outbox': 'sends what the outbox holds',
  },
  'agent/outbox': { 'agent/store': 'durable rows' },
  'agent/pipeline': {
    'agent/archive': 'the recorder finishes archives',
    'agent/config': 'its config slice',
    device: 'capture inputs and encoders',
    'device/encoders': 'encoder arguments',
  },
  'device/encoders': { device: 'board and run helpers' },
  'device/sources': {
    device: 'board, cameras and run helpers',
    'device/encoders': "the Jetson encoder's elements, the same the probe proves",
  },
};

const files = [...sources('agent'), ...sources('device')];
const imports = files.flatMap(importsOf);

t.test('every relative import names a file that exists', async (t) => {
  const known = new Set(files);
  const missing = imports.filter((i) => !known.has(i.to) && (i.to.startsWith('agent') || i.to.startsWith('device')));
  t.same(
    missing.map((i) => `${i.from} -> ${i.to}`),
    [],
  );
  t.ok(imports.length > 300, `${imports.length} imports read from ${files.length} files`);
});

t.test('no module imports itself back through others (type-only imports included)', async (t) => {
  const graph = new Map<string, string[]>();
  for (const i of imports) graph.set(i.from, [...(graph.get(i.from) ?? []), i.to]);
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (file: string, trail: string[]): void => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      cycles.push([...trail.slice(trail.indexOf(file)), file].join(' -> '));
      return;
    }
    state.set(file, 'open');
    for (const next of graph.get(file) ?? []) visit(next, [...trail, file]);
    state.set(file, 'done');
  };
  for (const file of files) visit(file, []);
  t.same(cycles, []);
});

// The device layer may use a helper of agent/util that is a leaf (imports nothing of the agent
// outside util, e.g. the child-process environment): never a feature, the contract or the bus.
t.test('the device layer imports nothing of the agent but its leaf utilities', async (t) => {
  const util = `agent${path.sep}util${path.sep}`;
  const leaf = (file: string) =>
    file.startsWith(util) && imports.every((i) => i.from !== file || i.to.startsWith(util));
  t.same(
    imports
      .filter((i) => i.from.startsWith(`device${path.sep}`) && i.to.startsWith(`agent${path.sep}`) && !leaf(i.to))
      .map((i) => `${i.from} -> ${i.to}`),
    [],
  );
});

t.test('a feature imports another only where the table allows it', async (t) => {
  const unexpected = new Set<string>();
  const used = new Set<string>();
  for (const i of imports) {
    const [a, b] = [feature(i.from), feature(i.to)];
    if (a === b || a === 'agent' || SHARED.has(b)) continue;
    if (ALLOWED[a]?.[b]) used.add(`${a} -> ${b}`);
    else unexpected.add(`${a} -> ${b} (${i.from})`);
  }
  t.same([...unexpected].sort(), [], 'imports the table does not list');
  const stale = Object.entries(ALLOWED)
    .flatMap(([a, targets]) => Object.keys(targets).map((b) => `${a} -> ${b}`))
    .filter((pair) => !used.has(pair));
  t.same(stale, [], 'table entries nothing uses any more');
  const mutual = [...used].filter((pair) => used.has(pair.split(' -> ').reverse().join(' -> ')));
  t.same(mutual, [], 'no two features import each other');
});

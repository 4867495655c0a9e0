/**
 * A simulated power cut that drops unsynced writes (test/fixtures/powercut/powercut.c says how
 * it records, and what it cannot catch): build the preload library, run processes under it, then
 * replace a tree with what its fsyncs made durable.
 */
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { ROOT } from './agentProcess.js';

/** Compiles the preload library into `dir`; null (with why) when there is no C compiler. */
export function buildPowercut(dir: string): { library: string } | { missing: string } {
  const library = path.join(dir, 'powercut.so');
  try {
    execFileSync(
      'cc',
      ['-shared', '-fPIC', '-O2', '-o', library, path.join(ROOT, 'test/fixtures/powercut/powercut.c'), '-ldl'],
      { stdio: 'pipe' },
    );
    return { library };
  } catch (error) {
    return { missing: `cannot build the power-cut library: ${(error as Error).message.split('\n')[0]}` };
  }
}

/** The environment that makes a process record its syncs under `root` into `store`. */
export function powercutEnv(library: string, root: string, store: string): NodeJS.ProcessEnv {
  mkdirSync(store, { recursive: true });
  // EDGE_AGENT_CHILD_ENV: the agent's children (FFmpeg) get only allow-listed variables otherwise.
  return {
    LD_PRELOAD: library,
    POWERCUT_ROOT: root,
    POWERCUT_STORE: store,
    EDGE_AGENT_CHILD_ENV: 'POWERCUT_ROOT,POWERCUT_STORE',
  };
}

/**
 * Replaces `root` by what had been synced: each directory as at its last fsync (as it was when
 * recording started, `initial`, if never synced), each file as at its last fsync (empty if never).
 * Returns what it rebuilt, for the test's report.
 */
export function cutPower(
  root: string,
  store: string,
  initial: Map<number, Entry[]>,
): { files: number; emptied: number } {
  const rootIno = statSync(root).ino;
  const rebuilt = `${root}.after-cut`;
  rmSync(rebuilt, { recursive: true, force: true });
  const counts = { files: 0, emptied: 0 };
  const build = (ino: number, at: string) => {
    mkdirSync(at, { recursive: true });
    for (const entry of durableEntries(store, ino, initial)) {
      const target = path.join(at, entry.name);
      if (entry.type === 'd') build(entry.ino, target);
      else if (entry.type === 'f') {
        const saved = path.join(store, `f-${entry.ino}`);
        counts.files += 1;
        if (existsSync(saved)) {
          copyFileSync(saved, target);
          const { atime, mtime } = statSync(saved);
          utimesSync(target, atime, mtime);
        } else {
          writeFileSync(target, '');
          counts.emptied += 1;
        }
      }
    }
  };
  build(rootIno, rebuilt);
  rmSync(root, { recursive: true, force: true });
  renameSync(rebuilt, root);
  return counts;
}

export interface Entry {
  type: 'd' | 'f' | 'o';
  ino: number;
  name: string;
}

function durableEntries(store: string, ino: number, initial: Map<number, Entry[]>): Entry[] {
  const file = path.join(store, `d-${ino}`);
  if (!existsSync(file)) return initial.get(ino) ?? [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [type, number, ...name] = line.split('\t');
      return { type: type as Entry['type'], ino: Number(number), name: name.join('\t') };
    });
}

/** The folders under `root` as they are now (what the disk holds before recording starts; no files). */
export function snapshotTree(root: string): Map<number, Entry[]> {
  const out = new Map<number, Entry[]>();
  const walk = (dir: string) => {
    const entries: Entry[] = [];
    for (const name of readdirSync(dir)) {
      const st = statSync(path.join(dir, name));
      const type = st.isDirectory() ? 'd' : st.isFile() ? 'f' : 'o';
      entries.push({ type, ino: st.ino, name });
      if (type === 'd') walk(path.join(dir, name));
    }
    out.set(statSync(dir).ino, entries);
  };
  walk(root);
  return out;
}

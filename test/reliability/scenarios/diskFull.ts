/**
 * The disk filling up: archive.dir is a small tmpfs mounted in a private mount namespace
 * (`unshare -m`, so nothing leaks into the host's mounts and it vanishes with the agent), and
 * archive.minFreePercent is set so the floor is reached within seconds. Recording must go on,
 * the oldest archives pruned first, never the newest finished one nor the one being written.
 * The test reads the agent's tmpfs through /proc/<pid>/root.
 */
import { statfs } from 'node:fs/promises';
import path from 'node:path';
import type { Test } from 'tap';
import { AgentProcess, testConfig } from '../../helpers/agentProcess.js';
import { waitFor } from '../../helpers/waitFor.js';
import { gaps, readArchives } from '../lib/agent.js';
import { recordResult } from '../lib/results.js';

export async function diskFilling(t: Test, options: { seconds: number; mode: 'ci' | 'long' }): Promise<void> {
  const dir = t.testdir();
  const archiveDir = path.join(dir, 'archive');
  const { mkdirSync, writeFileSync } = await import('node:fs');
  mkdirSync(archiveDir, { recursive: true });
  // 3 MiB with a 50 % floor: about 1.5 MiB of archives (8–10 four-second archives at 400 kb/s) fit.
  const config = testConfig(dir, {
    archive: { dir: archiveDir, segmentSeconds: 4, maxAgeHours: 168, minFreePercent: 50 },
  });
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  const mount = 'mount -t tmpfs -o size=3m,mode=0755 reliability-disk "$0" && exec "$@"';
  const agent = new AgentProcess(file, [], {}, [
    'unshare',
    '-m',
    '--propagation',
    'private',
    'sh',
    '-c',
    mount,
    archiveDir,
  ]);
  t.teardown(() => agent.stop());
  const [started] = await agent.waitEvent('pipeline.started', 1, 30_000);
  const pid = agent.child.pid!;
  const seen = path.join(`/proc/${pid}/root`, archiveDir);
  const fs = await statfs(seen);
  t.ok(
    fs.blocks * fs.bsize <= 4 * 1024 * 1024,
    `the agent sees a ${((fs.blocks * fs.bsize) / 1048576).toFixed(1)} MiB archive disk`,
  );
  await agent.waitEvent('disk.pruned', 1, 90_000);
  const prunedFirstAt = Date.now();
  // Keep recording past the first prune for the asked time.
  await waitFor(
    'recording under pressure',
    () => Date.now() - prunedFirstAt >= options.seconds * 1000,
    options.seconds * 1000 + 5000,
    200,
  );
  const archives = await readArchives(seen);
  const finished = agent.events('archive.finished');
  const pruned = agent.events('disk.pruned');
  // Never the newest: each pruned file was finished before the latest finished one of that moment.
  const order = new Map(finished.map((r, i) => [r.file, i]));
  const newestAtPrune = pruned.map((p) => finished.filter((f) => Date.parse(f.ts) <= Date.parse(p.ts)).length - 1);
  const prunedNewest = pruned.filter((p, i) => order.get(p.file) === newestAtPrune[i]);
  t.same(
    prunedNewest.map((p) => p.file),
    [],
    'the newest finished archive is never pruned',
  );
  // Oldest first: every archive still there is younger than every pruned one.
  const oldestLeft = archives[0]!.startMs;
  const prunedStarts = pruned.map((p) => Date.parse(String(finished.find((f) => f.file === p.file)?.start ?? '')));
  t.ok(
    prunedStarts.every((s) => Number.isNaN(s) || s < oldestLeft),
    'the oldest archives went first',
  );
  t.same(gaps(archives, 'cam1'), [], `the ${archives.length} archives left follow each other without a gap`);
  const lastEnd = Math.max(...archives.map((a) => a.startMs + a.seconds * 1000));
  t.ok(Date.now() - lastEnd < 4000 + 2500, 'recording went on to the end');
  t.equal(agent.events('pipeline.started').length, 1, 'the pipeline never had to restart');
  t.same(
    agent.logs(/failed/).map((r) => r.msg),
    [],
    'no write or finish failed',
  );
  const free = await statfs(seen);
  const freePct = (free.bavail / free.blocks) * 100;
  t.equal((await agent.stop()).code, 0, 'clean stop');
  recordResult(
    {
      id: 'f-disk-full',
      scenario: 'disk filling (3 MiB tmpfs in a private mount namespace, minFreePercent 50)',
      mode: options.mode,
      tried: `${Math.round((Date.now() - Date.parse(started!.ts)) / 1000)} s of recording, ${pruned.length} prunes`,
      lost: 'nothing but the pruned (oldest) archives',
      notes: `${finished.length} archives finished, ${pruned.length} pruned oldest first, ${archives.length} kept, ${freePct.toFixed(0)} % free at the end; no restart, no failed write`,
    },
    t.passing(),
  );
}

/**
 * The wall clock jumping forward by an hour and back again (an NTP step on a board that booted
 * without network), with libfaketime: LD_PRELOAD into the agent and, inherited, its FFmpeg;
 * FAKETIME_TIMESTAMP_FILE is rewritten while they run (FAKETIME_NO_CACHE re-reads it) and the
 * monotonic clock stays real, as on a board. The jump back goes to the very interval recorded
 * first, so every archive name of that interval is taken already.
 * Expected: the pipeline restarts on the new timeline, no archive overwritten or lost, names unique.
 */
import { createHash } from 'node:crypto';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Test } from 'tap';
import { AgentProcess, testConfig } from '../../helpers/agentProcess.js';
import { readArchives } from '../lib/agent.js';
import { recordResult } from '../lib/results.js';

/** Where Debian's libfaketime lives (package libfaketime, pulled in by faketime). */
export const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';

/**
 * Sets libfaketime's offset in one step. A plain write truncates first, and a process that reads
 * the file in between (FAKETIME_NO_CACHE: every clock call) sees no offset: a clock that flickers
 * back to real time for a moment, which no board's clock does.
 */
function setOffset(stamp: string, offset: string): void {
  writeFileSync(`${stamp}.tmp`, `${offset}\n`);
  renameSync(`${stamp}.tmp`, stamp);
}

export async function clockJumps(t: Test, options: { archivesPerPhase: number; mode: 'ci' | 'long' }): Promise<void> {
  if (!existsSync(LIBFAKETIME)) {
    t.pass(`skipped: libfaketime is not installed (${LIBFAKETIME}): apt-get install faketime`);
    return;
  }
  const dir = t.testdir();
  const stamp = path.join(dir, 'faketime');
  setOffset(stamp, '+0');
  const agent = AgentProcess.start(dir, testConfig(dir), {
    LD_PRELOAD: LIBFAKETIME,
    FAKETIME_TIMESTAMP_FILE: stamp,
    FAKETIME_NO_CACHE: '1',
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
    // Children get an allow-listed environment: name libfaketime's settings so FFmpeg keeps them.
    EDGE_AGENT_CHILD_ENV: 'FAKETIME_TIMESTAMP_FILE,FAKETIME_NO_CACHE,FAKETIME_DONT_FAKE_MONOTONIC',
  });
  t.teardown(() => agent.stop());
  const root = path.join(dir, 'archive');
  const hashes = async () => {
    const out = new Map<string, string>();
    for (const a of await readArchives(root))
      out.set(
        a.file,
        createHash('sha256')
          .update(await readFile(path.join(root, a.file)))
          .digest('hex'),
      );
    return out;
  };
  const firstRunAt = Date.now();
  await agent.waitEvent('archive.finished', options.archivesPerPhase, 60_000);
  const phaseA = await hashes();
  // Each phase's archives come from the run started on the new timeline; the pieces of the run
  // cut short by the jump are finished as it ends and must not count as the new phase.
  const jump = async (offset: string, jumps: number) => {
    const runs = agent.events('pipeline.started').length;
    setOffset(stamp, offset);
    // The restart comes once FFmpeg has stopped and the cut-short archive is finished.
    const restarted = await agent.waitEvent('pipeline.restarted', jumps, 20_000);
    t.equal(restarted[jumps - 1]!.reason, 'wall clock jumped', `jump ${jumps}: the restart says the clock jumped`);
    await agent.waitEvent('pipeline.started', runs + 1, 30_000);
    const n = agent.events('archive.finished').length;
    await agent.waitEvent('archive.finished', n + options.archivesPerPhase, 60_000);
  };
  // Forward an hour.
  await jump('+3600', 1);
  // Back to where the first phase began: an hour and more backwards, onto names already taken.
  await jump((-((Date.now() - firstRunAt) / 1000 + 0.5)).toFixed(1), 2);
  const stoppedAt = Date.now();
  t.equal((await agent.stop()).code, 0, 'clean stop');

  const archives = await readArchives(root);
  const after = await hashes();
  const changed = [...phaseA].filter(([file, hash]) => after.get(file) !== hash).map(([file]) => file);
  t.same(changed, [], `the ${phaseA.size} archives of the first interval are untouched`);
  const logged = [...agent.events('archive.finished'), ...agent.events('archive.recovered')].map((r) => r.file);
  t.equal(new Set(logged).size, logged.length, `every finished archive got its own name (${logged.length})`);
  t.same(
    logged.filter((f) => !after.has(f)),
    [],
    'and every one is still there',
  );
  const suffixed = archives.filter((a) => /Z-\d+\.mp4$/.test(a.file));
  t.ok(
    suffixed.length > 0,
    `names already taken got a -N suffix (${suffixed.map((a) => path.basename(a.file)).join(', ')})`,
  );
  const recorded = archives.reduce((s, a) => s + a.seconds, 0);
  const elapsed = (stoppedAt - firstRunAt) / 1000;
  const restarted = agent.events('pipeline.restarted');
  const restarts = restarted.length;
  // Each jump costs one clean restart, never a backoff: the restart decision says so itself.
  t.same(
    restarted.map((r) => [r.reason, r.delaySeconds]),
    restarted.map(() => ['wall clock jumped', 0]),
    'every restart is for a jump and immediate (no backoff)',
  );
  // What is lost is start-up plus, per restart, FFmpeg's stop and spawn to its first frame: a few
  // seconds each on a machine running other test files beside this one.
  t.ok(
    elapsed - recorded <= 3 + restarts * 4,
    `recorded ${recorded.toFixed(1)} s of ${elapsed.toFixed(1)} s across ${restarts} restarts`,
  );
  recordResult(
    {
      id: 'i-clock-jump',
      scenario: 'wall clock +1 h, then back to the first recorded interval (libfaketime, agent and FFmpeg)',
      mode: options.mode,
      tried: `2 jumps, ${options.archivesPerPhase} archives per phase`,
      lost: `${Math.max(0, elapsed - recorded).toFixed(1)} s over ${restarts} restarts and start-up; no archive overwritten`,
      notes: `${archives.length} archives, names unique, ${suffixed.length} with -N (name already taken), first interval's files byte-identical`,
    },
    t.passing(),
  );
}

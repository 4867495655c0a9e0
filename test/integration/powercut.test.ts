/**
 * The archive protocol (README "Archives and power cuts") under a power cut that drops every
 * write not yet fsynced, not just kill -9 (whose page cache survives): the real agent records
 * under the power-cut library, is killed mid-archive, its folders are replaced by what its
 * fsyncs made durable, and the next start must recover the archive in progress. Measured: the
 * seconds lost before the cut; every archive finished before the cut is still whole.
 */
import { readdir, readFile } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { AgentProcess, pidsMatching, testConfig } from '../helpers/agentProcess.js';
import { waitFor } from '../helpers/waitFor.js';
import { buildPowercut, cutPower, powercutEnv, snapshotTree } from '../helpers/powercut.js';

interface Archive {
  file: string;
  startMs: number;
  seconds: number;
  recovered: boolean;
}

async function archives(root: string): Promise<Archive[]> {
  const out: Archive[] = [];
  const cameraDir = path.join(root, 'cam1');
  for (const day of (await readdir(cameraDir).catch(() => [] as string[])).filter((d) => /^\d{4}-\d\d-\d\d$/.test(d))) {
    for (const name of (await readdir(path.join(cameraDir, day))).filter((f) => /^archive_.*\.mp4$/.test(f))) {
      const meta = JSON.parse(await readFile(path.join(cameraDir, day, name.replace(/\.mp4$/, '.json')), 'utf8')) as {
        start: string;
        seconds: number;
        recovered: boolean;
      };
      out.push({
        file: `${day}/${name}`,
        startMs: Date.parse(meta.start),
        seconds: meta.seconds,
        recovered: meta.recovered,
      });
    }
  }
  return out.sort((a, b) => a.startMs - b.startMs);
}

t.test('a power cut mid-archive loses at most the last second or so; finished archives survive whole', async (t) => {
  const dir = t.testdir({ disk: { archive: {}, data: {} }, store: {}, lib: {} });
  const built = buildPowercut(path.join(dir, 'lib'));
  if ('missing' in built) throw new Error(`${built.missing} (apt-get install gcc)`);
  const disk = path.join(dir, 'disk');
  const store = path.join(dir, 'store');
  const initial = snapshotTree(disk);
  const config = testConfig(dir, {
    archive: { dir: path.join(disk, 'archive'), segmentSeconds: 4, maxAgeHours: 168, minFreePercent: 1 },
    dataDir: path.join(disk, 'data'),
  });
  mkdirSync(path.join(dir, 'hls'), { recursive: true });

  const agent = AgentProcess.start(dir, config, powercutEnv(built.library, disk, store));
  t.teardown(() => agent.stop());
  await agent.waitEvent('archive.finished', 2, 60_000);
  // Cut in the middle of an archive: 2 s into a 4-s period.
  await waitFor(
    'the middle of an archive period',
    () => Date.now() % 4000 >= 1800 && Date.now() % 4000 < 2200,
    6000,
    20,
  );
  const finishedBefore = agent.events('archive.finished').map((r) => String(r.file));
  const cutMs = Date.now();
  agent.child.kill('SIGKILL');
  await agent.exited;
  const pid = agent.child.pid!;
  await waitFor(
    'FFmpeg to die with the agent',
    async () => (await pidsMatching(path.join(disk, 'archive'))).length === 0,
    15_000,
  );
  const rebuilt = cutPower(disk, store, initial);
  t.comment(
    `after the cut: ${rebuilt.files} files on the disk, ${rebuilt.emptied} of them with no synced data (pid ${pid})`,
  );

  const after = await archives(path.join(disk, 'archive'));
  for (const file of finishedBefore) {
    t.ok(
      after.some((a) => `cam1/${a.file}` === file),
      `${file}, finished before the cut, survived it`,
    );
  }

  const restarted = AgentProcess.start(dir, config);
  t.teardown(() => restarted.stop());
  const [recovered] = await restarted.waitEvent('archive.recovered', 1, 60_000);
  t.ok(recovered, `the archive in progress was recovered: ${String(recovered?.file)}`);
  await restarted.stop();

  const all = await archives(path.join(disk, 'archive'));
  const before = all.filter((a) => a.startMs < cutMs);
  const lastEnd = Math.max(...before.map((a) => a.startMs + a.seconds * 1000));
  const lost = (cutMs - lastEnd) / 1000;
  t.comment(`power cut at ${new Date(cutMs).toISOString()}: recorded up to ${lost.toFixed(2)} s before it`);
  t.ok(lost <= 2, `at most 2 s lost (the contract); measured ${lost.toFixed(2)} s`);
  const recoveredOnes = all.filter((a) => a.recovered);
  t.ok(recoveredOnes.length >= 1, 'a recovered archive on disk');
  // Nothing made twice: a partial whose removal was not yet durable is not finished again.
  for (let i = 1; i < before.length; i += 1) {
    const gap = before[i]!.startMs - (before[i - 1]!.startMs + before[i - 1]!.seconds * 1000);
    t.ok(
      gap > -500,
      `${before[i]!.file} does not repeat ${before[i - 1]!.file} (overlap ${(-gap / 1000).toFixed(2)} s)`,
    );
  }
});

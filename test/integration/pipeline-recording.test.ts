/** The real agent recording the test pattern: wall-clock archives and HLS, several cameras, the clock flag. */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { parseArchiveFileName } from '../../agent/archive/segmentName.js';
import { AgentProcess, testConfig } from '../helpers/agentProcess.js';
import { waitFor } from '../helpers/waitFor.js';
import { decodeErrors, duration, keyframeTimes, topLevelBoxes } from '../helpers/media.js';

async function archivesIn(root: string, camera = 'cam1'): Promise<string[]> {
  const out: string[] = [];
  for (const day of await readdir(path.join(root, camera)).catch(() => [] as string[])) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) continue;
    for (const name of await readdir(path.join(root, camera, day)))
      if (name.endsWith('.mp4')) out.push(path.join(root, camera, day, name));
  }
  return out.sort();
}

t.test('archives are cut on the wall clock, fast-start, decodable; HLS keeps a rolling window', async (t) => {
  const dir = t.testdir();
  const config = testConfig(dir);
  const agent = AgentProcess.start(dir, config);
  t.teardown(() => agent.stop());
  const finished = await agent.waitEvent('archive.finished', 3, 40_000);
  const stopped = await agent.stop();
  t.equal(stopped.code, 0, 'clean stop exits 0');
  t.equal(agent.linesWithTwoComponents, 0, 'every log line names its component once');
  const files = await archivesIn(path.join(dir, 'archive'));
  t.ok(files.length >= 4, `at least 4 archives (3 cut + the one closed at stop), got ${files.length}`);
  for (const [i, file] of files.entries()) {
    const name = path.basename(file);
    t.match(name, /^archive_\d{8}T\d{6}Z\.mp4$/, `${name} follows the contract's name`);
    const startMs = parseArchiveFileName(name)!;
    if (i > 0) t.equal((startMs / 1000) % 4, 0, `${name} starts on a 4-s wall-clock boundary`);
    t.same(
      (await topLevelBoxes(file)).filter((b) => b === 'moov' || b === 'mdat'),
      ['moov', 'mdat'],
      `${name}: moov before mdat`,
    );
    t.equal(await decodeErrors(file), '', `${name} decodes without errors`);
    const seconds = await duration(file);
    if (i > 0 && i < files.length - 1)
      t.ok(Math.abs(seconds - 4) < 0.15, `${name} lasts the segment length (${seconds} s)`);
    const keys = await keyframeTimes(file);
    t.ok(keys.length >= Math.floor(seconds) - 1, `${name}: a keyframe every second (${keys.length} in ${seconds} s)`);
  }
  t.ok(
    finished.every((r) => typeof r.file === 'string' && r.bytes > 0),
    'archive.finished names the file and its size',
  );
  const playlist = await readFile(path.join(dir, 'hls', 'cam1', 'index.m3u8'), 'utf8');
  const durations = [...playlist.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
  t.ok(
    durations.length > 0 && durations.length <= 4,
    `playlist window holds at most listSize segments (${durations.length})`,
  );
  t.ok(
    durations.slice(0, -1).every((d) => Math.abs(d - 1) < 0.1),
    `segments last about 1 s: ${durations.join(', ')}`,
  );
  const segments = (await readdir(path.join(dir, 'hls', 'cam1'))).filter((n) => n.endsWith('.ts'));
  t.ok(segments.length <= 6, `old segments are deleted (${segments.length} on disk)`);
  t.same(
    await readdir(path.join(dir, 'archive', 'cam1', '.partial')),
    [],
    'no partial recording left after a clean stop',
  );
});

t.test('two cameras record side by side', async (t) => {
  const dir = t.testdir();
  const agent = AgentProcess.start(dir, testConfig(dir, {}, ['front', 'back']));
  t.teardown(() => agent.stop());
  await waitFor(
    'an archive from each camera',
    async () => {
      const finished = agent.events('archive.finished');
      return finished.some((r) => r.camera === 'front') && finished.some((r) => r.camera === 'back');
    },
    40_000,
  );
  await agent.stop();
  for (const camera of ['front', 'back']) {
    const files = await archivesIn(path.join(dir, 'archive'), camera);
    t.ok(files.length >= 2, `${camera} has its own archives (${files.length})`);
    t.ok(
      (await readFile(path.join(dir, 'hls', camera, 'index.m3u8'), 'utf8')).includes('#EXTINF'),
      `${camera} has its own live playlist`,
    );
  }
});

t.test('archives recorded before the clock is synchronised are marked so', async (t) => {
  const dir = t.testdir();
  const agent = AgentProcess.start(dir, testConfig(dir), { EDGE_AGENT_CLOCK_SYNCED: '0' });
  t.teardown(() => agent.stop());
  const [finished] = await agent.waitEvent('archive.finished', 1, 30_000);
  t.equal(finished!.clockSynced, false, 'archive.finished says the clock was not synchronised');
  const sidecar = JSON.parse(
    await readFile(path.join(dir, 'archive', finished!.file.replace(/\.mp4$/, '.json')), 'utf8'),
  );
  t.equal(sidecar.clockSynced, false, 'and so does the sidecar');
});

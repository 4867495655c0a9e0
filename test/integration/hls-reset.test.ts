/**
 * The HLS folder is reset at every pipeline start, and hls.dir can be chosen remotely: the reset
 * must remove the last run's segments and playlist and nothing else. (It once emptied whatever
 * folder it was given: set to the dataDir over MQTT, it wiped the archives and agent.db.)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { AgentProcess, testConfig } from '../helpers/agentProcess.js';
import { waitFor } from '../helpers/waitFor.js';

t.test('a pipeline start deletes only its own HLS files from the camera folder', async (t) => {
  const dir = t.testdir();
  const camDir = path.join(dir, 'shared', 'cam1');
  mkdirSync(path.join(camDir, 'archive', '2026-01-01'), { recursive: true });
  writeFileSync(path.join(camDir, 'agent.db'), 'precious');
  writeFileSync(path.join(camDir, 'archive', '2026-01-01', 'archive_20260101T000000Z.mp4'), 'video');
  writeFileSync(path.join(camDir, 'seg-1700000000.ts'), 'stale segment');
  writeFileSync(path.join(camDir, 'index.m3u8'), '#EXTM3U\n#stale\n');
  const agent = AgentProcess.start(
    dir,
    testConfig(dir, { hls: { dir: path.join(dir, 'shared'), segmentSeconds: 1, listSize: 4 } }),
  );
  t.teardown(() => agent.stop());
  await agent.waitEvent('pipeline.started', 1, 60_000);
  await waitFor(
    'a fresh playlist',
    () =>
      existsSync(path.join(camDir, 'index.m3u8')) &&
      !readFileSync(path.join(camDir, 'index.m3u8'), 'utf8').includes('#stale'),
    30_000,
  );
  t.notOk(existsSync(path.join(camDir, 'seg-1700000000.ts')), "the last run's segment is gone");
  t.equal(readFileSync(path.join(camDir, 'agent.db'), 'utf8'), 'precious', 'a file the agent did not make is kept');
  t.ok(
    existsSync(path.join(camDir, 'archive', '2026-01-01', 'archive_20260101T000000Z.mp4')),
    'and a folder it did not make',
  );
});

/** The real agent when FFmpeg or the agent itself is killed or stalls: restarted, and what was recorded rescued. */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { AgentProcess, pidsMatching, testConfig } from '../helpers/agentProcess.js';
import { waitFor } from '../helpers/waitFor.js';
import { decodeErrors, topLevelBoxes } from '../helpers/media.js';

t.test('kill -9 of FFmpeg: restarted, the cut-short archive recovered with at most 2 s lost', async (t) => {
  const dir = t.testdir();
  const agent = AgentProcess.start(
    dir,
    testConfig(dir, {
      archive: { dir: path.join(dir, 'archive'), segmentSeconds: 6, maxAgeHours: 168, minFreePercent: 1 },
    }),
  );
  t.teardown(() => agent.stop());
  const [started] = await agent.waitLog('pipeline started');
  await agent.waitLog('archive finished', 1, 30_000);
  // Kill 3-5 s into the next archive.
  const partialDir = path.join(dir, 'archive', 'cam1', '.partial');
  await waitFor('3 s into the archive', async () => Date.now() % 6000 > 3000 && Date.now() % 6000 < 5000, 10_000, 20);
  const killedAt = Date.now();
  process.kill(Number(started!.pid), 'SIGKILL');
  const [recovered] = await agent.waitLog('archive recovered', 1, 20_000);
  const expected = (killedAt - Math.floor(killedAt / 6000) * 6000) / 1000;
  t.ok(
    Number(recovered!.seconds) >= expected - 2,
    `recovered ${recovered!.seconds} s of ${expected.toFixed(2)} s recorded before the kill`,
  );
  await agent.waitLog('pipeline started', 2);
  const restart = agent.logs('restarting pipeline')[0]!;
  t.ok(Number(restart.delayMs) > 0, 'restart waits a backoff delay');
  t.ok(await readdir(partialDir), 'partial folder exists for the new run');
});

t.test('kill -9 of the agent: FFmpeg dies with it, the next start recovers the archive', async (t) => {
  const dir = t.testdir();
  const config = testConfig(dir, {
    archive: { dir: path.join(dir, 'archive'), segmentSeconds: 30, maxAgeHours: 168, minFreePercent: 1 },
  });
  const first = AgentProcess.start(dir, config);
  t.teardown(() => first.stop());
  const [started] = await first.waitLog('pipeline started');
  const ffmpegPid = Number(started!.pid);
  await waitFor(
    '3 s of video',
    async () => (await readdir(path.join(dir, 'hls', 'cam1'))).filter((n) => n.endsWith('.ts')).length >= 4,
    20_000,
  );
  first.child.kill('SIGKILL');
  const killedAt = Date.now();
  await first.exited;
  await waitFor('ffmpeg to die with the agent', async () => !(await pidsMatching(dir)).length, 5_000);
  t.throws(() => process.kill(ffmpegPid, 0), 'the orphaned FFmpeg is gone');
  const second = AgentProcess.start(dir, config);
  t.teardown(() => second.stop());
  // Recovery runs before the new pipeline starts. A boundary inside the killed run's seconds
  // (one FFmpeg missed in its start-up backlog) splits what is rescued into two archives.
  await second.waitLog('pipeline started', 1, 30_000);
  const recovered = second.logs('archive recovered');
  t.ok(recovered.length >= 1, `${recovered.length} archive(s) recovered`);
  const recordedFor = (killedAt - Math.min(...recovered.map((r) => Date.parse(String(r.start))))) / 1000;
  const seconds = recovered.reduce((sum, r) => sum + Number(r.seconds), 0);
  t.ok(seconds >= recordedFor - 2, `recovered ${seconds.toFixed(2)} s of about ${recordedFor.toFixed(1)} s`);
  for (const r of recovered) {
    const file = path.join(dir, 'archive', String(r.file));
    t.equal(await decodeErrors(file), '', `${r.file} decodes`);
    t.same(
      (await topLevelBoxes(file)).filter((b) => b === 'moov' || b === 'mdat'),
      ['moov', 'mdat'],
      'and is fast-start',
    );
  }
});

t.test('a stalled FFmpeg (no new frames) is killed and restarted', async (t) => {
  const dir = t.testdir();
  const agent = AgentProcess.start(dir, testConfig(dir));
  t.teardown(() => agent.stop());
  const [started] = await agent.waitLog('pipeline started');
  await agent.waitLog('archive finished', 1, 30_000);
  // A hung camera driver looks like this: the process lives on and nothing moves.
  process.kill(Number(started!.pid), 'SIGSTOP');
  const [stall] = await agent.waitLog('no new frame: killing the stuck pipeline', 1, 30_000);
  t.ok(stall, 'the stall is noticed from frame progress');
  const restarted = await agent.waitLog('pipeline started', 2, 30_000);
  t.not(restarted[1]!.pid, started!.pid, 'a new FFmpeg runs');
  await agent.waitLog('archive recovered', 1, 20_000);
  t.pass('what the stuck run had recorded is rescued');
});

/** The real agent when FFmpeg or the agent itself is killed or stalls: restarted, and what was recorded rescued. */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { AgentProcess, pidsMatching, signalRun, testConfig } from '../helpers/agentProcess.js';
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
  const [started] = await agent.waitEvent('pipeline.started');
  await agent.waitEvent('archive.finished', 1, 30_000);
  // Kill 3-5 s into the next archive.
  const partialDir = path.join(dir, 'archive', 'cam1', '.partial');
  await waitFor('3 s into the archive', async () => Date.now() % 6000 > 3000 && Date.now() % 6000 < 5000, 10_000, 20);
  const killedAt = Date.now();
  signalRun(started!, 'SIGKILL');
  const [recovered] = await agent.waitEvent('archive.recovered', 1, 20_000);
  const expected = (killedAt - Math.floor(killedAt / 6000) * 6000) / 1000;
  t.ok(
    recovered!.seconds >= expected - 2,
    `recovered ${recovered!.seconds} s of ${expected.toFixed(2)} s recorded before the kill`,
  );
  await agent.waitEvent('pipeline.started', 2);
  const [restart] = agent.events('pipeline.restarted');
  t.ok(restart!.delaySeconds > 0, 'restart waits a backoff delay');
  t.ok(await readdir(partialDir), 'partial folder exists for the new run');
});

t.test('kill -9 of the agent: FFmpeg dies with it, the next start recovers the archive', async (t) => {
  const dir = t.testdir();
  const config = testConfig(dir, {
    archive: { dir: path.join(dir, 'archive'), segmentSeconds: 30, maxAgeHours: 168, minFreePercent: 1 },
  });
  const first = AgentProcess.start(dir, config);
  t.teardown(() => first.stop());
  const [started] = await first.waitEvent('pipeline.started');
  const ffmpegPid = started!.pid;
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
  await second.waitEvent('pipeline.started', 1, 30_000);
  const recovered = second.events('archive.recovered');
  t.ok(recovered.length >= 1, `${recovered.length} archive(s) recovered`);
  const recordedFor = (killedAt - Math.min(...recovered.map((r) => Date.parse(r.start)))) / 1000;
  const seconds = recovered.reduce((sum, r) => sum + r.seconds, 0);
  t.ok(seconds >= recordedFor - 2, `recovered ${seconds.toFixed(2)} s of about ${recordedFor.toFixed(1)} s`);
  for (const r of recovered) {
    const file = path.join(dir, 'archive', r.file);
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
  const [started] = await agent.waitEvent('pipeline.started');
  await agent.waitEvent('archive.finished', 1, 30_000);
  // A hung camera driver looks like this: the process lives on and nothing moves.
  signalRun(started!, 'SIGSTOP');
  const [stall] = await agent.waitEvent('pipeline.restarted', 1, 30_000);
  t.match(
    stall,
    { camera: 'cam1', reason: /^stalled: no frame for \d+ s$/ },
    'the stall is noticed from frame progress',
  );
  t.same(
    agent.events('camera.lost').map((e) => e.reason),
    [stall!.reason],
    'and the camera is marked lost for it',
  );
  const restarted = await agent.waitEvent('pipeline.started', 2, 30_000);
  t.not(restarted[1]!.pid, started!.pid, 'a new FFmpeg runs');
  await agent.waitEvent('archive.recovered', 1, 20_000);
  t.pass('what the stuck run had recorded is rescued');
});

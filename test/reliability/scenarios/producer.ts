/**
 * The capture producer killed: a CSI camera on a Raspberry Pi 5 is read through `rpicam-vid`
 * piped into FFmpeg. No CSI camera or libcamera runs here, so the board is a fixture tree
 * (EDGE_AGENT_HOST_ROOT: the device tree of a Pi 5) and `rpicam-vid` is a stand-in on PATH that
 * writes a real-time test pattern as raw YUV420, as rpicam-vid does with `--codec yuv420 -o -`.
 * Expected, each time the producer dies (SIGKILL): FFmpeg finishes what it had, camera.lost,
 * a restart after the backoff, camera.found, and at most the crash window lost. Then FFmpeg
 * killed instead: the producer must go with it (no orphan holding the camera).
 */
import path from 'node:path';
import type { Test } from 'tap';
import { AgentProcess, pidsMatching, signalRun, testConfig } from '../../helpers/agentProcess.js';
import { waitFor } from '../../helpers/waitFor.js';
import { decodeErrors } from '../../helpers/media.js';
import { fakeBoard, fakeRpicamVid } from '../../helpers/standins.js';
import { gaps, readArchives } from '../lib/agent.js';
import { recordResult } from '../lib/results.js';
import { STARTUP_ALLOWANCE_S } from './ffmpegKills.js';

/** Kills the producer `kills` times, one kill every `everyMs`, then FFmpeg once. */
export async function producerKills(
  t: Test,
  options: { kills: number; everyMs: number; mode: 'ci' | 'long' },
): Promise<void> {
  const dir = t.testdir();
  const host = path.join(dir, 'host');
  const bin = path.join(dir, 'bin');
  const tag = `fake-rpicam ${dir}`;
  fakeBoard(host, 'pi5');
  fakeRpicamVid(bin, tag);
  const config = testConfig(dir);
  config.cameras = [{ id: 'cam1', source: 'csi', width: 320, height: 240, fps: 15 }];
  const agent = AgentProcess.start(dir, config, {
    EDGE_AGENT_HOST_ROOT: host,
    PATH: `${bin}:${process.env.PATH ?? ''}`,
  });
  t.teardown(() => agent.stop());
  const [first] = await agent.waitEvent('pipeline.started', 1, 60_000);
  t.match(first!.source, /^csi:0 rpicam-vid 320x240@15 yuv420$/, 'the CSI camera is read through rpicam-vid');
  t.match(agent.logs('board detected')[0], { family: 'pi5' }, 'the fixture tree reads as a Pi 5');
  await agent.waitEvent('archive.finished', 1, 30_000);

  const producer = async () => {
    const pids = await pidsMatching(tag);
    return pids.length === 1 ? pids[0]! : null;
  };
  const kills: number[] = [];
  let lastKill = Date.now();
  for (let i = 0; i < options.kills; i += 1) {
    const run = (await agent.waitEvent('pipeline.started', i + 1, 60_000))[i]!;
    await waitFor(
      'the interval and a running pipeline',
      () => Date.now() - lastKill >= options.everyMs && Date.now() - Date.parse(run.ts) > 3000,
      options.everyMs + 60_000,
      50,
    );
    const pid = await waitFor('the producer', producer, 10_000);
    lastKill = Date.now();
    process.kill(pid, 'SIGKILL');
    kills.push(lastKill);
    await agent.waitEvent('camera.lost', i + 1, 15_000);
    await agent.waitEvent('camera.found', i + 1, 30_000);
  }
  const lost = agent.events('camera.lost');
  t.equal(lost.length, options.kills, 'camera.lost once per producer death');
  t.ok(
    lost.every((r) => /capture producer exited with code none \(SIGKILL\)/.test(r.reason)),
    `the reason says the producer was killed (${lost[0]?.reason})`,
  );

  // FFmpeg killed with its producer still running: the producer must not outlive it.
  const runs = agent.events('pipeline.started').length;
  await waitFor(
    'a running pipeline',
    () => Date.now() - Date.parse(agent.events('pipeline.started').at(-1)!.ts) > 3000,
    30_000,
    50,
  );
  const orphanCandidate = await waitFor('the producer', producer, 10_000);
  signalRun(agent.events('pipeline.started').at(-1)!, 'SIGKILL');
  await waitFor(
    'the producer to go with FFmpeg',
    async () => !(await pidsMatching(tag)).includes(orphanCandidate),
    10_000,
    50,
  );
  t.pass('the producer went with its FFmpeg');
  await agent.waitEvent('pipeline.started', runs + 1, 60_000);
  const finishedBefore = agent.events('archive.finished').length;
  await agent.waitEvent('archive.finished', finishedBefore + 1, 30_000);
  t.equal((await agent.stop()).code, 0, 'clean stop');
  t.same(await pidsMatching(dir), [], 'nothing left behind');

  const archives = await readArchives(path.join(dir, 'archive'));
  const restarts = agent.events('pipeline.restarted');
  const losses: number[] = [];
  const resumed: string[] = [];
  for (const [i, at] of kills.entries()) {
    const before = archives.filter((a) => a.startMs < at).at(-1);
    const after = archives.find((a) => a.startMs > at);
    if (!before || !after) {
      t.fail(`kill ${i + 1}: archives before and after it (${before?.file}, ${after?.file})`);
      continue;
    }
    const loss = (at - (before.startMs + before.seconds * 1000)) / 1000;
    losses.push(loss);
    t.ok(loss <= 2, `kill ${i + 1}: ${loss.toFixed(2)} s lost before the kill (≤ 2)`);
    const delay = Number(restarts[i]?.delaySeconds);
    const gap = (after.startMs - at) / 1000;
    resumed.push(`${gap.toFixed(1)}/${delay.toFixed(1)}`);
    t.ok(
      gap <= delay + STARTUP_ALLOWANCE_S,
      `kill ${i + 1}: recording resumed ${gap.toFixed(2)} s after the kill (backoff ${delay.toFixed(1)} s)`,
    );
  }
  t.ok(gaps(archives, 'cam1', 0.3).length <= options.kills + 1, 'no gaps but the restarts');
  for (const a of archives.slice(0, -1))
    t.equal(await decodeErrors(path.join(dir, 'archive', a.file)), '', `${a.file} decodes`);
  recordResult(
    {
      id: 'b-producer-kill',
      scenario:
        'capture producer killed (SIGKILL): CSI camera on a Pi 5 fixture, rpicam-vid stand-in piping raw YUV420; then FFmpeg killed under it',
      mode: options.mode,
      tried: `${kills.length} producer kills every ${options.everyMs / 1000} s, 1 FFmpeg kill`,
      lost: `${Math.max(0, ...losses).toFixed(2)} s at most before a kill (≤ 2-s window)`,
      notes: `camera.lost + camera.found each time; resumed after kill / backoff (s): ${resumed.join(', ')}; the producer died with its FFmpeg; ${archives.length} archives decode`,
    },
    t.passing(),
  );
}

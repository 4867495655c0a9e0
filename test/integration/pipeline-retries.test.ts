/**
 * The real agent when FFmpeg runs keep failing: the restart backoff grows while runs fail at once
 * and is forgotten after a healthy run; a failing encoder makes way for the next one down the ladder.
 */
import t from 'tap';
import { AgentProcess, pidsMatching, signalRun, testConfig } from '../helpers/agentProcess.js';
import { waitFor } from '../helpers/waitFor.js';

t.test('FFmpeg killed repeatedly: restarted each time with growing backoff, nothing orphaned', async (t) => {
  const dir = t.testdir();
  const agent = AgentProcess.start(dir, testConfig(dir));
  t.teardown(() => agent.stop());
  for (let i = 1; i <= 3; i += 1) {
    const started = await agent.waitEvent('pipeline.started', i, 30_000);
    signalRun(started[i - 1]!, 'SIGKILL');
    await agent.waitEvent('pipeline.restarted', i);
  }
  await agent.waitEvent('pipeline.started', 4, 30_000);
  const delays = agent.events('pipeline.restarted').map((r) => r.delaySeconds);
  t.ok(delays[2]! > delays[0]!, `backoff grows: ${delays.join(', ')} s`);
  t.equal((await agent.stop()).code, 0, 'still stops cleanly');
  const left = await pidsMatching(dir);
  const { readFile: read } = await import('node:fs/promises');
  const commands = await Promise.all(
    left.map((pid) =>
      read(`/proc/${pid}/cmdline`, 'utf8')
        .catch(() => '')
        .then((c) => c.replace(/\0/g, ' ').slice(0, 120)),
    ),
  );
  t.same(commands, [], 'no FFmpeg or shim left running');
});

t.test('FFmpeg killed after recording a while: restarted at once each time, the backoff forgotten', async (t) => {
  const dir = t.testdir();
  const agent = AgentProcess.start(dir, testConfig(dir));
  t.teardown(() => agent.stop());
  for (let i = 1; i <= 3; i += 1) {
    const started = await agent.waitEvent('pipeline.started', i, 30_000);
    // Past healthyAfterSeconds (10 s) of frames: this run proved camera and encoder work.
    await waitFor('12 s of recording', () => Date.now() - Date.parse(started[i - 1]!.ts) > 13_000, 20_000, 100);
    signalRun(started[i - 1]!, 'SIGKILL');
    await agent.waitEvent('pipeline.restarted', i);
  }
  const delays = agent.events('pipeline.restarted').map((r) => r.delaySeconds);
  t.ok(
    delays.every((s) => s <= 1),
    `every restart waits the first step only: ${delays.join(', ')} s`,
  );
  t.equal((await agent.stop()).code, 0, 'still stops cleanly');
});

t.test('encoder ladder: failing hardware encoders fall back to libx264 and say why', async (t) => {
  const dir = t.testdir();
  const config = testConfig(dir, { encoder: { prefer: ['h264_nvenc', 'h264_v4l2m2m', 'libx264'], bitrateKbps: 400 } });
  const agent = AgentProcess.start(dir, config, { EDGE_AGENT_TRUST_ENCODERS: '1' });
  t.teardown(() => agent.stop());
  const fallbacks = await agent.waitEvent('encoder.fallback', 2, 30_000);
  t.same(
    fallbacks.map((r) => [r.from, r.to]),
    [
      ['h264_nvenc', 'h264_v4l2m2m'],
      ['h264_v4l2m2m', 'libx264'],
    ],
    'one step down at a time',
  );
  t.match(fallbacks[0]!.reason, /libcuda|valid device|encoder/i, "the reason is FFmpeg's own words");
  const started = await agent.waitEvent('pipeline.started', 3);
  t.equal(started[2]!.encoder, 'libx264', 'runs on libx264 in the end');
  await agent.waitEvent('archive.finished', 1, 30_000);
});

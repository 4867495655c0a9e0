import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { parseArchiveFileName } from '../../agent/archive/segmentName.js';
import { AgentProcess, pidsMatching, testConfig } from '../helpers/agentProcess.js';
import { waitFor } from '../helpers/waitFor.js';
import { decodeErrors, duration, keyframeTimes, topLevelBoxes } from '../helpers/media.js';

async function archivesIn(root: string, camera = 'cam1'): Promise<string[]> {
  const out: string[] = [];
  for (const day of await readdir(path.join(root, camera)).catch(() => [] as string[])) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) continue;
    for (const name of await readdir(path.join(root, camera, day))) if (name.endsWith('.mp4')) out.push(path.join(root, camera, day, name));
  }
  return out.sort();
}

t.test('archives are cut on the wall clock, fast-start, decodable; HLS keeps a rolling window', async (t) => {
  const dir = t.testdir();
  const config = testConfig(dir);
  const agent = AgentProcess.start(dir, config);
  t.teardown(() => agent.stop());
  const finished = await agent.waitLog('archive finished', 3, 40_000);
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
    t.same((await topLevelBoxes(file)).filter((b) => b === 'moov' || b === 'mdat'), ['moov', 'mdat'], `${name}: moov before mdat`);
    t.equal(await decodeErrors(file), '', `${name} decodes without errors`);
    const seconds = await duration(file);
    if (i > 0 && i < files.length - 1) t.ok(Math.abs(seconds - 4) < 0.15, `${name} lasts the segment length (${seconds} s)`);
    const keys = await keyframeTimes(file);
    t.ok(keys.length >= Math.floor(seconds) - 1, `${name}: a keyframe every second (${keys.length} in ${seconds} s)`);
  }
  t.ok(finished.every((r) => typeof r.file === 'string' && Number(r.bytes) > 0), 'finish logs name the file and its size');
  const playlist = await readFile(path.join(dir, 'hls', 'cam1', 'index.m3u8'), 'utf8');
  const durations = [...playlist.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
  t.ok(durations.length > 0 && durations.length <= 4, `playlist window holds at most listSize segments (${durations.length})`);
  t.ok(durations.slice(0, -1).every((d) => Math.abs(d - 1) < 0.1), `segments last about 1 s: ${durations.join(', ')}`);
  const segments = (await readdir(path.join(dir, 'hls', 'cam1'))).filter((n) => n.endsWith('.ts'));
  t.ok(segments.length <= 6, `old segments are deleted (${segments.length} on disk)`);
  t.same(await readdir(path.join(dir, 'archive', 'cam1', '.partial')), [], 'no partial recording left after a clean stop');
});

t.test('kill -9 of FFmpeg: restarted, the cut-short archive recovered with at most 2 s lost', async (t) => {
  const dir = t.testdir();
  const agent = AgentProcess.start(dir, testConfig(dir, { archive: { dir: path.join(dir, 'archive'), segmentSeconds: 6, maxAgeHours: 168, minFreePercent: 1 } }));
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
  t.ok(Number(recovered!.seconds) >= expected - 2, `recovered ${recovered!.seconds} s of ${expected.toFixed(2)} s recorded before the kill`);
  await agent.waitLog('pipeline started', 2);
  const restart = agent.logs('restarting pipeline')[0]!;
  t.ok(Number(restart.delayMs) > 0, 'restart waits a backoff delay');
  t.ok(await readdir(partialDir), 'partial folder exists for the new run');
});

t.test('kill -9 of the agent: FFmpeg dies with it, the next start recovers the archive', async (t) => {
  const dir = t.testdir();
  const config = testConfig(dir, { archive: { dir: path.join(dir, 'archive'), segmentSeconds: 30, maxAgeHours: 168, minFreePercent: 1 } });
  const first = AgentProcess.start(dir, config);
  t.teardown(() => first.stop());
  const [started] = await first.waitLog('pipeline started');
  const ffmpegPid = Number(started!.pid);
  await waitFor('3 s of video', async () => (await readdir(path.join(dir, 'hls', 'cam1'))).filter((n) => n.endsWith('.ts')).length >= 4, 20_000);
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
    t.same((await topLevelBoxes(file)).filter((b) => b === 'moov' || b === 'mdat'), ['moov', 'mdat'], 'and is fast-start');
  }
});

t.test('FFmpeg killed repeatedly: restarted each time with growing backoff, nothing orphaned', async (t) => {
  const dir = t.testdir();
  const agent = AgentProcess.start(dir, testConfig(dir));
  t.teardown(() => agent.stop());
  for (let i = 1; i <= 3; i += 1) {
    const started = await agent.waitLog('pipeline started', i, 30_000);
    process.kill(Number(started[i - 1]!.pid), 'SIGKILL');
    await agent.waitLog('restarting pipeline', i);
  }
  await agent.waitLog('pipeline started', 4, 30_000);
  const delays = agent.logs('restarting pipeline').map((r) => Number(r.delayMs));
  t.ok(delays[2]! > delays[0]!, `backoff grows: ${delays.join(', ')} ms`);
  t.equal((await agent.stop()).code, 0, 'still stops cleanly');
  const left = await pidsMatching(dir);
  const { readFile: read } = await import('node:fs/promises');
  const commands = await Promise.all(left.map((pid) => read(`/proc/${pid}/cmdline`, 'utf8').catch(() => '').then((c) => c.replace(/\0/g, ' ').slice(0, 120))));
  t.same(commands, [], 'no FFmpeg or shim left running');
});

t.test('FFmpeg killed after recording a while: restarted at once each time, the backoff forgotten', async (t) => {
  const dir = t.testdir();
  const agent = AgentProcess.start(dir, testConfig(dir));
  t.teardown(() => agent.stop());
  for (let i = 1; i <= 3; i += 1) {
    const started = await agent.waitLog('pipeline started', i, 30_000);
    // Past healthyAfterSeconds (10 s) of frames: this run proved camera and encoder work.
    await waitFor('12 s of recording', () => Date.now() - Date.parse(String(started[i - 1]!.time)) > 13_000, 20_000, 100);
    process.kill(Number(started[i - 1]!.pid), 'SIGKILL');
    await agent.waitLog('restarting pipeline', i);
  }
  const delays = agent.logs('restarting pipeline').map((r) => Number(r.delayMs));
  t.ok(delays.every((ms) => ms <= 1000), `every restart waits the first step only: ${delays.join(', ')} ms`);
  t.equal((await agent.stop()).code, 0, 'still stops cleanly');
});

t.test('encoder ladder: failing hardware encoders fall back to libx264 and say why', async (t) => {
  const dir = t.testdir();
  const config = testConfig(dir, { encoder: { prefer: ['h264_nvenc', 'h264_v4l2m2m', 'libx264'], bitrateKbps: 400 } });
  const agent = AgentProcess.start(dir, config, { EDGE_AGENT_TRUST_ENCODERS: '1' });
  t.teardown(() => agent.stop());
  const fallbacks = await agent.waitLog('encoder failed: falling back one step', 2, 30_000);
  t.same(fallbacks.map((r) => [r.from, r.to]), [['h264_nvenc', 'h264_v4l2m2m'], ['h264_v4l2m2m', 'libx264']], 'one step down at a time');
  t.match(String(fallbacks[0]!.reason), /libcuda|valid device|encoder/i, 'the reason is FFmpeg\'s own words');
  const started = await agent.waitLog('pipeline started', 3);
  t.equal(started[2]!.encoder, 'libx264', 'runs on libx264 in the end');
  await agent.waitLog('archive finished', 1, 30_000);
});

t.test('two cameras record side by side', async (t) => {
  const dir = t.testdir();
  const agent = AgentProcess.start(dir, testConfig(dir, {}, ['front', 'back']));
  t.teardown(() => agent.stop());
  await waitFor('an archive from each camera', async () => {
    const finished = agent.logs('archive finished');
    return finished.some((r) => r.camera === 'front') && finished.some((r) => r.camera === 'back');
  }, 40_000);
  await agent.stop();
  for (const camera of ['front', 'back']) {
    const files = await archivesIn(path.join(dir, 'archive'), camera);
    t.ok(files.length >= 2, `${camera} has its own archives (${files.length})`);
    t.ok((await readFile(path.join(dir, 'hls', camera, 'index.m3u8'), 'utf8')).includes('#EXTINF'), `${camera} has its own live playlist`);
  }
});

t.test('archives recorded before the clock is synchronised are marked so', async (t) => {
  const dir = t.testdir();
  const agent = AgentProcess.start(dir, testConfig(dir), { EDGE_AGENT_CLOCK_SYNCED: '0' });
  t.teardown(() => agent.stop());
  const [finished] = await agent.waitLog('archive finished', 1, 30_000);
  const sidecar = JSON.parse(await readFile(path.join(dir, 'archive', String(finished!.file).replace(/\.mp4$/, '.json')), 'utf8'));
  t.equal(sidecar.clockSynced, false, 'the sidecar says the clock was not synchronised');
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

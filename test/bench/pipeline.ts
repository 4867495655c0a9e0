/**
 * Side-by-side benchmark (issue 3): CPU per video second and peak RSS of
 *   (a) the agent (Node + its FFmpeg),
 *   (b) the bare FFmpeg command that makes the same two outputs,
 *   (c) the old design: frames piped through the app into two separate libx264 encoders,
 * all at 720p30 from the synthetic camera with the same encoder settings; plus the Node process's
 * own CPU and RSS, start → first HLS segment, and live latency. Run: `npm run bench`
 * (BENCH_SECONDS=60 by default).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ffmpegEncoderArgs } from '../../device/encoders/args.js';
import { testPatternInput } from '../../device/sources/test.js';
import { buildPipelineArgs } from '../../agent/pipeline/ffmpegArgs.js';
import { ROOT } from '../helpers/agentProcess.js';
import { unitNodeFlags } from '../helpers/nodeFlags.js';
import { treeSample } from './procstat.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const WARMUP = 5;
const SPEC = { width: 1280, height: 720, fps: 30 };
const SETTINGS = { ...SPEC, bitrateKbps: 2500, keyframeSeconds: 1 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Figures {
  cpuPerVideoSecond: number;
  peakRssMb: number;
  nodeCpuPercent?: number;
  nodeRssMb?: number;
}

/** Samples a process tree for SECONDS after a warm-up: CPU used per second and peak RSS. */
async function measure(child: ChildProcess, nodePid?: number): Promise<Figures> {
  await sleep(WARMUP * 1000);
  const start = await treeSample(child.pid!);
  const t0 = Date.now();
  let peak = start.rss;
  while (Date.now() - t0 < SECONDS * 1000) {
    await sleep(2000);
    peak = Math.max(peak, (await treeSample(child.pid!)).rss);
  }
  const end = await treeSample(child.pid!);
  const wall = (Date.now() - t0) / 1000;
  const figures: Figures = { cpuPerVideoSecond: (end.cpu - start.cpu) / wall, peakRssMb: peak / 2 ** 20 };
  if (nodePid !== undefined) {
    figures.nodeCpuPercent = (((end.perPid.get(nodePid) ?? 0) - (start.perPid.get(nodePid) ?? 0)) / wall) * 100;
    const status = await readFile(`/proc/${nodePid}/status`, 'utf8');
    figures.nodeRssMb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  }
  return figures;
}

async function stop(child: ChildProcess): Promise<void> {
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  await done;
}

/** (a) The agent itself, plus start → first segment and live latency from its playlist. */
async function benchAgent(dir: string): Promise<Figures & { firstSegmentSeconds: number; latencySeconds: number }> {
  const config = {
    device: { id: 'bench' },
    cameras: [{ id: 'cam1', source: 'test', ...SPEC }],
    encoder: { prefer: ['libx264'], bitrateKbps: SETTINGS.bitrateKbps },
    hls: { dir: path.join(dir, 'hls'), segmentSeconds: 1, listSize: 6 },
    archive: { dir: path.join(dir, 'archive'), segmentSeconds: 600, maxAgeHours: 168, minFreePercent: 1 },
    mqtt: { url: 'mqtt://127.0.0.1:1' },
    http: { listen: '127.0.0.1:0' },
    dataDir: path.join(dir, 'data'),
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [...unitNodeFlags(), path.join(ROOT, 'dist/agent/cli.js'), 'run', '--config', path.join(dir, 'config.json')],
    {
      stdio: 'ignore',
      env: { ...process.env, EDGE_AGENT_LOG_LEVEL: 'warn' },
    },
  );
  const playlist = path.join(dir, 'hls', 'cam1', 'index.m3u8');
  let firstSegmentSeconds = NaN;
  while (Date.now() - started < 30_000) {
    if ((await readFile(playlist, 'utf8').catch(() => '')).includes('#EXTINF')) {
      firstSegmentSeconds = (Date.now() - started) / 1000;
      break;
    }
    await sleep(20);
  }
  const latencySeconds = await liveLatency(playlist);
  const figures = await measure(child, child.pid);
  await stop(child);
  return { ...figures, firstSegmentSeconds, latencySeconds };
}

/**
 * Frame captured → its segment listed, for the frame that waits longest (a segment's first): the
 * time a new segment appears in the playlist minus its program date-time, which FFmpeg counts
 * from the first frame's arrival. Median of 10 segments.
 */
async function liveLatency(playlist: string): Promise<number> {
  const seen = new Set<string>();
  const samples: number[] = [];
  while (samples.length < 10) {
    const text = await readFile(playlist, 'utf8').catch(() => '');
    const now = Date.now();
    for (const m of text.matchAll(/#EXTINF:([\d.]+),\s*\n#EXT-X-PROGRAM-DATE-TIME:(\S+)\s*\n(\S+)/g)) {
      if (seen.has(m[3]!)) continue;
      seen.add(m[3]!);
      if (seen.size <= 6) continue; // the window present at the first look is not new
      samples.push((now - Date.parse(m[2]!.replace(/(\+\d{2})(\d{2})$/, '$1:$2'))) / 1000);
    }
    await sleep(10);
  }
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
}

/** (b) The same FFmpeg command the agent runs, started by hand. */
async function benchBareFfmpeg(dir: string): Promise<Figures> {
  mkdirSync(path.join(dir, 'hls'), { recursive: true });
  mkdirSync(path.join(dir, 'rec'), { recursive: true });
  const args = buildPipelineArgs({
    capture: testPatternInput(SPEC),
    encoder: ffmpegEncoderArgs('libx264', SETTINGS),
    keyframeSeconds: 1,
    timeline: { baseSeconds: Math.floor(Date.now() / 600_000) * 600, offsetSeconds: 0 },
    hls: { dir: path.join(dir, 'hls'), segmentSeconds: 1, listSize: 6 },
    recording: { dir: path.join(dir, 'rec'), segmentSeconds: 600 },
  }).map((a) => (a === 'pipe:1' ? '/dev/null' : a));
  const child = spawn('ffmpeg', args, { stdio: 'ignore', env: { ...process.env, TZ: 'UTC' } });
  const figures = await measure(child);
  await stop(child);
  return figures;
}

/**
 * (c) The old design: the app reads raw frames (the same synthetic camera, clock and all) and
 * writes each one to two libx264 encoders. The service it replaced held OpenCV frames (BGR), so
 * that is what it piped; YUV 4:2:0 frames, cheaper to copy and convert, are measured too.
 */
async function benchOldDesign(dir: string, pixFmt: 'yuv420p' | 'bgr24'): Promise<Figures> {
  const script = `
    const { spawn } = require('node:child_process');
    const [w, h, fps, kbps, dir, , pixFmt] = process.argv.slice(1);
    const raw = ['-f', 'rawvideo', '-pix_fmt', pixFmt, '-s', w + 'x' + h, '-r', fps, '-i', 'pipe:0'];
    const enc = ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-b:v', kbps + 'k', '-maxrate', kbps + 'k', '-bufsize', (2 * kbps) + 'k', '-g', fps, '-pix_fmt', 'yuv420p'];
    require('node:fs').mkdirSync(dir, { recursive: true });
    const hls = spawn('ffmpeg', ['-v', 'error', ...raw, ...enc, '-f', 'hls', '-hls_time', '1', '-hls_list_size', '6', '-hls_flags', 'delete_segments', dir + '/old.m3u8'], { stdio: ['pipe', 'ignore', 'inherit'] });
    const rec = spawn('ffmpeg', ['-v', 'error', ...raw, ...enc, '-f', 'mpegts', dir + '/old.ts'], { stdio: ['pipe', 'ignore', 'inherit'] });
    const cam = spawn('ffmpeg', ['-v', 'error', ...JSON.parse(process.argv[6]), '-f', 'rawvideo', '-pix_fmt', pixFmt, 'pipe:1'], { stdio: ['ignore', 'pipe', 'inherit'] });
    cam.stdout.on('data', (chunk) => { hls.stdin.write(chunk); rec.stdin.write(chunk); });
    process.on('SIGINT', () => { cam.kill('SIGINT'); hls.stdin.end(); rec.stdin.end(); setTimeout(() => process.exit(0), 1000); });
  `;
  const child = spawn(
    process.execPath,
    [
      '-e',
      script,
      String(SPEC.width),
      String(SPEC.height),
      String(SPEC.fps),
      String(SETTINGS.bitrateKbps),
      dir,
      JSON.stringify(testPatternInput(SPEC).inputArgs),
      pixFmt,
    ],
    { stdio: 'ignore' },
  );
  const figures = await measure(child);
  await stop(child);
  return figures;
}

async function main(): Promise<void> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'edge-bench-'));
  try {
    console.log(
      `benchmark: 720p30 synthetic camera, libx264 ultrafast ${SETTINGS.bitrateKbps} kb/s, ${SECONDS} s each after ${WARMUP} s warm-up`,
    );
    const a = await benchAgent(path.join(base, 'a'));
    const b = await benchBareFfmpeg(path.join(base, 'b'));
    // The old service held OpenCV frames, which are BGR; (c) pipes those, (c') the cheaper YUV.
    const c = await benchOldDesign(path.join(base, 'c'), 'bgr24');
    const cYuv = await benchOldDesign(path.join(base, 'c2'), 'yuv420p');
    const row = (name: string, f: Figures) =>
      console.log(
        `${name.padEnd(44)} ${f.cpuPerVideoSecond.toFixed(3).padStart(8)} CPU-s/s ${f.peakRssMb.toFixed(0).padStart(6)} MB peak RSS`,
      );
    row('(a) agent (Node + FFmpeg)', a);
    row('(b) bare FFmpeg, same two outputs', b);
    row('(c) old design: app pipes BGR into 2 encoders', c);
    row("(c') same, frames piped as YUV 4:2:0", cYuv);
    console.log(`(a)/(b) = ${(a.cpuPerVideoSecond / b.cpuPerVideoSecond).toFixed(2)}   (target <= 1.10)`);
    console.log(`(a)/(c) = ${(a.cpuPerVideoSecond / c.cpuPerVideoSecond).toFixed(2)}   (target <= 0.40)`);
    console.log(`(a)/(c') = ${(a.cpuPerVideoSecond / cYuv.cpuPerVideoSecond).toFixed(2)}`);
    console.log(
      `Node process: ${a.nodeCpuPercent!.toFixed(2)} % of one core (target <= 2 %), RSS ${a.nodeRssMb!.toFixed(0)} MB (target <= 80 MB)`,
    );
    console.log(`start -> first HLS segment: ${a.firstSegmentSeconds.toFixed(2)} s (target <= 3 s)`);
    console.log(
      `live latency (a segment's first frame -> segment listed, median): ${a.latencySeconds.toFixed(2)} s (target <= 1.5 s)`,
    );
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

await main();

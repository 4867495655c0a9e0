/** The agent (or the bare FFmpeg command it runs) started for a benchmark, and what is measured of it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { ffmpegEncoderArgs } from '../../device/encoders/args.js';
import { testPatternInput } from '../../device/sources/test.js';
import { buildPipelineArgs } from '../../agent/pipeline/ffmpegArgs.js';
import { ROOT } from '../helpers/agentProcess.js';
import { unitNodeFlags } from '../helpers/nodeFlags.js';
import { treeSample } from './procstat.js';

/** The camera every benchmark run records: 720p30 from the synthetic camera, libx264 at 2.5 Mb/s. */
export const SPEC = { width: 1280, height: 720, fps: 30 };
export const SETTINGS = { ...SPEC, bitrateKbps: 2500, keyframeSeconds: 1 };

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A running agent: its process, HTTP port and when its first HLS segment was listed. */
export interface BenchAgent {
  child: ChildProcess;
  port: number;
  firstSegmentSeconds: number;
}

/**
 * Starts the built agent (dist/, under the systemd unit's Node flags) with `cameras` test cameras
 * and waits for the first HLS segment of the first camera. `dataDir` is shared between runs, so
 * the encoder verdicts are cached as on a board after its first start.
 */
export async function startAgent(
  dir: string,
  dataDir: string,
  opts: { liveView: boolean; cameras?: number },
): Promise<BenchAgent> {
  const port = await freePort();
  const cameras = Array.from({ length: opts.cameras ?? 1 }, (_, i) => ({ id: `cam${i + 1}`, source: 'test', ...SPEC }));
  const config = {
    device: { id: 'bench' },
    cameras,
    encoder: { prefer: ['libx264'], bitrateKbps: SETTINGS.bitrateKbps },
    hls: { dir: path.join(dir, 'hls'), segmentSeconds: 1, listSize: 6 },
    archive: { dir: path.join(dir, 'archive'), segmentSeconds: 600, maxAgeHours: 168, minFreePercent: 1 },
    mqtt: { url: 'mqtt://127.0.0.1:1' },
    http: { listen: `127.0.0.1:${port}`, liveView: opts.liveView },
    dataDir,
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [...unitNodeFlags(), path.join(ROOT, 'dist/agent/cli.js'), 'run', '--config', path.join(dir, 'config.json')],
    {
      stdio: 'ignore',
      env: { ...process.env, EDGE_AGENT_LOG_LEVEL: 'warn', NODE_ENV: 'production' },
    },
  );
  const playlist = path.join(dir, 'hls', 'cam1', 'index.m3u8');
  while (!(await readFile(playlist, 'utf8').catch(() => '')).includes('#EXTINF')) {
    if (Date.now() - started > 30_000) throw new Error('the agent made no HLS segment in 30 s');
    await sleep(20);
  }
  return { child, port, firstSegmentSeconds: (Date.now() - started) / 1000 };
}

/** The FFmpeg command the agent runs for one camera, started by hand (no Node); its progress goes to `<dir>/progress`. */
export function startBareFfmpeg(dir: string): ChildProcess {
  mkdirSync(path.join(dir, 'hls'), { recursive: true });
  mkdirSync(path.join(dir, 'rec'), { recursive: true });
  const now = Date.now() / 1000;
  const base = Math.floor(now / 600) * 600;
  const args = buildPipelineArgs({
    capture: testPatternInput(SPEC),
    encoder: ffmpegEncoderArgs('libx264', SETTINGS),
    keyframeSeconds: 1,
    timeline: { baseSeconds: base, offsetSeconds: now - base },
    hls: { dir: path.join(dir, 'hls'), segmentSeconds: 1, listSize: 6 },
    recording: { dir: path.join(dir, 'rec'), segmentSeconds: 600 },
  }).map((a) => (a === 'pipe:1' ? path.join(dir, 'progress') : a));
  return spawn('ffmpeg', args, { stdio: 'ignore', env: { ...process.env, TZ: 'UTC' } });
}

/** Stops a benchmark process the way systemd stops the agent, and waits for it. */
export async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await done;
}

/** What one CPU run measured: CPU seconds per second of video made, and how close to real time it ran. */
export interface CpuFigures {
  /** The whole process tree (Node and FFmpeg, or FFmpeg alone). */
  tree: number;
  /** The root process alone (Node, for the agent). */
  root: number;
  /** Video seconds made per wall second: under 1 when the machine starved the run. */
  realtime: number;
}

/**
 * CPU per second of video over `seconds` after `warmupSeconds`. Per video second (frames made /
 * fps), not per wall second: on a machine busy with other work a starved run makes fewer frames
 * and would look cheaper per wall second than it is.
 */
export async function cpuPerVideoSecond(
  root: number,
  frames: () => Promise<number>,
  warmupSeconds: number,
  seconds: number,
): Promise<CpuFigures> {
  await sleep(warmupSeconds * 1000);
  const [start, frames0] = [await treeSample(root), await frames()];
  const t0 = Date.now();
  await sleep(seconds * 1000);
  const [end, frames1] = [await treeSample(root), await frames()];
  const wall = (Date.now() - t0) / 1000;
  const video = (frames1 - frames0) / SPEC.fps;
  return {
    tree: (end.cpu - start.cpu) / video,
    root: ((end.perPid.get(root) ?? 0) - (start.perPid.get(root) ?? 0)) / video,
    realtime: video / wall,
  };
}

/** Frames the agent's first camera has made, from /api/status. */
export function agentFrames(agent: BenchAgent): () => Promise<number> {
  return async () => {
    const status = (await (await fetch(`http://127.0.0.1:${agent.port}/api/status`)).json()) as {
      cameras: Array<{ framesTotal?: number }>;
    };
    return status.cameras[0]?.framesTotal ?? 0;
  };
}

/** Frames a bare FFmpeg has made, from the last block of its -progress file. */
export function progressFrames(file: string): () => Promise<number> {
  return async () => {
    const text = await readFile(file, 'utf8').catch(() => '');
    const all = [...text.matchAll(/^frame=(\d+)$/gm)];
    return Number(all.at(-1)?.[1] ?? 0);
  };
}

/** Where a process's resident memory goes (MB): all of it, file-backed (code: node, libraries), and anonymous (heaps, buffers, SQLite's cache). */
export async function memoryOf(pid: number): Promise<{ rss: number; file: number; anon: number }> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  const mb = (k: number) => k / 1024;
  return { rss: mb(kb('Rss')), file: mb(kb('Rss') - kb('Anonymous')), anon: mb(kb('Anonymous')) };
}

/**
 * Issue 20's benchmark: every figure measured in one run and printed beside its target.
 *   1. Glass to glass in headless Chromium, the live view (MSE) and HLS side by side: the test
 *      camera's time band read back from the displayed frame (glass.ts).
 *   2. CPU per second of the agent (Node + FFmpeg) with the live view on (one viewer connected)
 *      and off, and of the bare FFmpeg command it runs: alternating, BENCH_ROUNDS rounds.
 *   3. The Node process's RSS after the warm-up with one camera and with two, and where it goes.
 *   4. Start -> first HLS segment.
 * Run: `npm run build && npm run bench:live` (BENCH_SECONDS=20 per CPU run, BENCH_ROUNDS=3).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import WebSocket from 'ws';
import { timeBand } from '../../device/sources/test.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/browser.js';
import {
  agentFrames,
  cpuPerVideoSecond,
  memoryOf,
  progressFrames,
  sleep,
  SPEC,
  startAgent,
  startBareFfmpeg,
  stop,
  type BenchAgent,
} from './agentRun.js';
import { displayedLatencies, percentile } from './glass.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const ROUNDS = Math.max(3, Number(process.env.BENCH_ROUNDS ?? 3));
const WARMUP = 5;
const SAMPLE_SECONDS = 15;
const VIDEO = 'video.live[data-camera="cam1"]';

/** Median, p95 and count of the latencies of one player in the agent's page. */
async function glassToGlass(
  browser: Browser,
  agent: BenchAgent,
  transport: 'live' | 'hls',
): Promise<{ median: number; p95: number; n: number }> {
  const page = await browser.newPage();
  try {
    // HLS as the page's fallback plays it: a browser without WebSocket.
    if (transport === 'hls') await page.addInitScript(() => delete (globalThis as { WebSocket?: unknown }).WebSocket);
    await page.goto(`http://127.0.0.1:${agent.port}/`);
    const video = page.locator(VIDEO);
    await video.waitFor();
    const state = () =>
      video.evaluate((v: { currentTime: number; dataset: Record<string, string> }) => ({
        time: v.currentTime,
        transport: v.dataset.transport,
      }));
    const deadline = Date.now() + 30_000;
    while ((await state()).time <= 0 && Date.now() < deadline) await sleep(200);
    const seen = await state();
    if (seen.transport !== transport || seen.time <= 0)
      throw new Error(`the page did not play ${transport} (${JSON.stringify(seen)})`);
    await sleep(5000); // past the start: the player settles on its live edge
    const latencies = await displayedLatencies(page, VIDEO, timeBand(SPEC), SAMPLE_SECONDS);
    return { median: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), n: latencies.length };
  } finally {
    await page.close();
  }
}

/** A live view client in this process, so the agent pays for a viewer in the CPU runs. */
function viewer(agent: BenchAgent): WebSocket {
  const ws = new WebSocket(`ws://127.0.0.1:${agent.port}/live/cam1`);
  ws.on('message', () => {});
  ws.on('error', () => {});
  return ws;
}

interface Round {
  cpu: number;
  /** The Node process alone (the agent runs; for bare FFmpeg the same as cpu). */
  nodeCpu: number;
  realtime: number;
  nodeRss?: number;
  firstSegment?: number;
}

const median = (values: number[]) => percentile(values, 0.5);
const spread = (values: number[]) => `${Math.min(...values).toFixed(3)}–${Math.max(...values).toFixed(3)}`;
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');

async function main(): Promise<void> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'edge-bench-live-'));
  const dataDir = path.join(base, 'data');
  const runs = { liveOn: [] as Round[], liveOff: [] as Round[], bare: [] as Round[] };
  let n = 0;
  const dir = () => path.join(base, `run${(n += 1)}`);
  try {
    console.log(
      `benchmark: ${SPEC.width}x${SPEC.height}@${SPEC.fps} test camera, libx264 ultrafast 2500 kb/s; CPU ${ROUNDS} rounds × ${SECONDS} s after ${WARMUP} s; machine: ${os.cpus().length} cores, load ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );

    // 1. Glass to glass, the two players of one agent.
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const agent = await startAgent(dir(), dataDir, { liveView: true });
    let live: Awaited<ReturnType<typeof glassToGlass>>;
    let hls: typeof live;
    try {
      live = await glassToGlass(browser, agent, 'live');
      hls = await glassToGlass(browser, agent, 'hls');
    } finally {
      await stop(agent.child);
      await browser.close();
    }

    // 2-4. Alternating CPU runs; RSS and start-up come with the agent's.
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const liveView of [true, false]) {
        const run = await startAgent(dir(), dataDir, { liveView });
        const ws = liveView ? viewer(run) : null;
        const cpu = await cpuPerVideoSecond(run.child.pid!, agentFrames(run), WARMUP, SECONDS);
        const nodeRss = (await memoryOf(run.child.pid!)).rss;
        ws?.terminate();
        await stop(run.child);
        (liveView ? runs.liveOn : runs.liveOff).push({
          cpu: cpu.tree,
          nodeCpu: cpu.root,
          realtime: cpu.realtime,
          nodeRss,
          firstSegment: run.firstSegmentSeconds,
        });
      }
      const bareDir = dir();
      const bare = startBareFfmpeg(bareDir);
      const cpu = await cpuPerVideoSecond(bare.pid!, progressFrames(path.join(bareDir, 'progress')), WARMUP, SECONDS);
      runs.bare.push({ cpu: cpu.tree, nodeCpu: cpu.root, realtime: cpu.realtime });
      await stop(bare, 'SIGINT');
    }
    const two = await startAgent(dir(), dataDir, { liveView: true, cameras: 2 });
    await sleep((WARMUP + SECONDS) * 1000);
    const twoMemory = await memoryOf(two.child.pid!);
    await stop(two.child);
    const one = await startAgent(dir(), dataDir, { liveView: true });
    await sleep((WARMUP + SECONDS) * 1000);
    const oneMemory = await memoryOf(one.child.pid!);
    await stop(one.child);

    const cpu = (rounds: Round[]) => rounds.map((r) => r.cpu);
    const on = median(cpu(runs.liveOn));
    const off = median(cpu(runs.liveOff));
    const bare = median(cpu(runs.bare));
    const rss1 = median(runs.liveOn.map((r) => r.nodeRss!));
    const starts = [...runs.liveOn, ...runs.liveOff].map((r) => r.firstSegment!);
    const row = (figure: string, value: string, target: string, ok: boolean | null) =>
      console.log(`| ${figure} | ${value} | ${target} | ${ok === null ? '' : verdict(ok)} |`);
    console.log('\n| figure | measured | target | |\n|---|---|---|---|');
    row(
      'glass to glass, live view (MSE)',
      `median ${live.median.toFixed(2)} s, p95 ${live.p95.toFixed(2)} s (${live.n} frames)`,
      '≤ 0.5 s',
      live.median <= 0.5,
    );
    row(
      'glass to glass, HLS (hls.js)',
      `median ${hls.median.toFixed(2)} s, p95 ${hls.p95.toFixed(2)} s (${hls.n} frames)`,
      '',
      null,
    );
    const pace = (rounds: Round[]) => `, ${median(rounds.map((r) => r.realtime)).toFixed(2)}× real time`;
    const nodeCpu = (rounds: Round[]) => `; Node ${median(rounds.map((r) => r.nodeCpu)).toFixed(4)}`;
    row(
      'CPU per video-s, agent with live view on (1 viewer)',
      `${on.toFixed(3)} (${spread(cpu(runs.liveOn))})${nodeCpu(runs.liveOn)}${pace(runs.liveOn)}`,
      '',
      null,
    );
    row(
      'CPU per video-s, agent with live view off',
      `${off.toFixed(3)} (${spread(cpu(runs.liveOff))})${nodeCpu(runs.liveOff)}${pace(runs.liveOff)}`,
      '',
      null,
    );
    row(
      'CPU per video-s, bare FFmpeg (HLS + recording)',
      `${bare.toFixed(3)} (${spread(cpu(runs.bare))})${pace(runs.bare)}`,
      '',
      null,
    );
    row('live view on / off', `${(on / off).toFixed(2)}×`, '≤ 1.05×', on / off <= 1.05);
    row('agent (live off) / bare FFmpeg', `${(off / bare).toFixed(2)}×`, '≤ 1.05×', off / bare <= 1.05);
    row('agent (live on) / bare FFmpeg', `${(on / bare).toFixed(2)}×`, '', null);
    row('Node RSS, one camera (CPU runs, median)', `${rss1.toFixed(0)} MB`, '≤ 60 MB', rss1 <= 60);
    row(
      'Node RSS, one camera (after 25 s)',
      `${oneMemory.rss.toFixed(0)} MB: ${oneMemory.file.toFixed(0)} file-backed (code), ${oneMemory.anon.toFixed(0)} anonymous (heaps, buffers)`,
      '≤ 60 MB',
      oneMemory.rss <= 60,
    );
    row(
      'Node RSS, two cameras (after 25 s)',
      `${twoMemory.rss.toFixed(0)} MB: ${twoMemory.file.toFixed(0)} file-backed, ${twoMemory.anon.toFixed(0)} anonymous`,
      '≤ 70 MB',
      twoMemory.rss <= 70,
    );
    row(
      'start → first HLS segment',
      `median ${median(starts).toFixed(2)} s (${spread(starts)})`,
      '≤ 1.5 s',
      median(starts) <= 1.5,
    );
    console.log(
      `\nload average at the end: ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${os.cpus().length} cores`,
    );
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

await main();

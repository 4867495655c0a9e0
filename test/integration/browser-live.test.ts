/**
 * The page's live view in real headless Chromium: the agent's own FFmpeg command line (one encode
 * to HLS, the recording and the live view's fragmented MP4 on fd 4) feeds the relay; the page plays
 * it with Media Source Extensions, reads live frames (their time band says so), reconnects after a
 * pipeline restart, and falls back to HLS when the WebSocket is refused or missing.
 */
import t from 'tap';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ffmpegEncoderArgs } from '../../device/encoders/args.js';
import { testPatternInput, timeBand } from '../../device/sources/test.js';
import { HttpServer, type HttpServerDeps } from '../../agent/http/server.js';
import { LiveRelays } from '../../agent/live/relay.js';
import { buildPipelineArgs } from '../../agent/pipeline/ffmpegArgs.js';
import { FfmpegProcess } from '../../agent/pipeline/ffmpegProcess.js';
import { silentLogger } from '../../agent/util/logger.js';
import { displayedLatencies, percentile } from '../bench/glass.js';
import { browserTestBlocked, CHROMIUM, CHROMIUM_ARGS } from '../helpers/browser.js';
import { waitFor } from '../helpers/waitFor.js';
import { FakeCatalog, FakePipeline, runningCamera, testConfig } from '../unit/http/fakes.js';

const SPEC = { width: 320, height: 240, fps: 15 };
const VIDEO = 'video.live[data-camera="cam1"]';

/** One run of the pipeline's command line for cam1, its live output handed to the relay. */
async function startPipeline(hlsDir: string, recordingDir: string, relays: LiveRelays): Promise<FfmpegProcess> {
  await mkdir(recordingDir, { recursive: true });
  const now = Date.now() / 1000;
  const base = Math.floor(now / 600) * 600;
  const proc = new FfmpegProcess({
    ffmpegPath: 'ffmpeg',
    args: buildPipelineArgs({
      capture: testPatternInput(SPEC),
      encoder: ffmpegEncoderArgs('libx264', { ...SPEC, bitrateKbps: 400, keyframeSeconds: 1 }),
      keyframeSeconds: 1,
      timeline: { baseSeconds: base, offsetSeconds: now - base },
      hls: { dir: hlsDir, segmentSeconds: 1, listSize: 6 },
      recording: { dir: recordingDir, segmentSeconds: 600 },
      live: true,
    }),
    workDir: recordingDir,
    live: true,
  });
  await proc.start();
  relays.forCamera('cam1').attach(proc.liveStream!);
  return proc;
}

/** The video's current time, and which player the page chose. */
const playback = (page: Page) =>
  page.locator(VIDEO).evaluate((v: { currentTime: number; dataset: Record<string, string> }) => ({
    time: v.currentTime,
    transport: v.dataset.transport,
  }));

async function advances(page: Page, seconds: number, what: string): Promise<number> {
  await waitFor(`${what} starts`, async () => (await playback(page)).time > 0, 30_000);
  const t0 = (await playback(page)).time;
  await waitFor(`${what} advances ${seconds} s`, async () => (await playback(page)).time >= t0 + seconds, 30_000);
  return (await playback(page)).time - t0;
}

const blocked = browserTestBlocked();
if (blocked) {
  t.plan(0, blocked);
} else {
  t.test('the page plays the live view over MSE and falls back to HLS', async (t) => {
    const dir = t.testdir();
    const hlsRoot = join(dir, 'hls');
    const hlsDir = join(hlsRoot, 'cam1');
    await mkdir(hlsDir, { recursive: true });
    const relays = new LiveRelays(silentLogger());
    let proc = await startPipeline(hlsDir, join(dir, 'rec1'), relays);
    // Wait for FFmpeg to be gone: it writes HLS segments until it is, and the test folder is removed next.
    t.teardown(async () => {
      proc.kill();
      await proc.exited();
    });
    await waitFor(
      'two HLS segments',
      async () =>
        ((await readFile(join(hlsDir, 'index.m3u8'), 'utf8').catch(() => '')).match(/#EXTINF/g) ?? []).length >= 2,
      30_000,
    );

    const config = testConfig({ archiveDir: join(dir, 'archive'), hlsDir: hlsRoot });
    const deps: HttpServerDeps = {
      config: () => config,
      log: silentLogger(),
      pipeline: new FakePipeline([runningCamera('cam1')], hlsRoot),
      archives: new FakeCatalog(join(dir, 'archive')),
      health: { snapshot: async () => ({}) },
      status: async () => ({ device: 'gate-01', version: '0.1.0', uptime: 1 }),
      token: null,
      live: relays,
    };
    const withLive = new HttpServer(deps);
    await withLive.start();
    t.teardown(() => withLive.stop());
    const { live: _live, ...noLiveDeps } = deps;
    const withoutLive = new HttpServer(noLiveDeps);
    await withoutLive.start();
    t.teardown(() => withoutLive.stop());

    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    t.teardown(() => browser.close());
    const pageErrors: string[] = [];
    const open = async (port: number, init?: () => void): Promise<Page> => {
      const page = await browser.newPage();
      page.on('pageerror', (e) => pageErrors.push(String(e)));
      if (init) await page.addInitScript(init);
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.locator(VIDEO).waitFor();
      return page;
    };

    t.test('MSE: frames advance, and they are the live ones', async (t) => {
      const page = await open(withLive.port!);
      const played = await advances(page, 2, 'the live view');
      t.equal((await playback(page)).transport, 'live', 'played by the low-latency view, not HLS');
      t.ok(played >= 2, `advanced ${played.toFixed(2)} s`);
      // Frames carry their capture time: decodable, and recent (a grey or frozen picture would not be).
      const latencies = await displayedLatencies(page, VIDEO, timeBand(SPEC), 3);
      t.ok(latencies.length >= 10, `${latencies.length} frames read back`);
      const median = percentile(latencies, 0.5);
      t.ok(median >= 0 && median < 2, `displayed frames are ${median.toFixed(3)} s old (median)`);

      // A pipeline restart: the relay closes the viewers (1012); the page reconnects to the new run.
      await proc.stop(5000);
      proc = await startPipeline(hlsDir, join(dir, 'rec2'), relays);
      const again = await advances(page, 2, 'the live view after a pipeline restart');
      t.ok(again >= 2, `plays again after the restart (${again.toFixed(2)} s)`);
      t.equal((await playback(page)).transport, 'live', 'still the low-latency view');
      await page.close();
    });

    t.test('the WebSocket path refused (live view off): HLS plays', async (t) => {
      const page = await open(withoutLive.port!);
      const played = await advances(page, 2, 'the HLS fallback');
      t.equal((await playback(page)).transport, 'hls');
      t.ok(played >= 2, `advanced ${played.toFixed(2)} s`);
      await page.close();
    });

    t.test('no WebSocket in the browser: HLS plays', async (t) => {
      const page = await open(withLive.port!, () => {
        delete (globalThis as { WebSocket?: unknown }).WebSocket;
      });
      const played = await advances(page, 2, 'the HLS fallback');
      t.equal((await playback(page)).transport, 'hls');
      t.ok(played >= 2, `advanced ${played.toFixed(2)} s`);
      await page.close();
    });

    t.test('no page errors', async (t) => {
      t.same(pageErrors, []);
    });
  });
}

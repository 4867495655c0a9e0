/**
 * The status page in a real browser: Debian's Chromium (driven by playwright-core) plays a real
 * live HLS stream made by FFmpeg, shows the health figures, and plays an archive from the list.
 */
import t from 'tap';
import type { ChildProcess } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpServer } from '../../agent/http/server.js';
import { HealthCollector } from '../../agent/health/collector.js';
import { silentLogger } from '../../agent/util/logger.js';
import { Sensors } from '../../device/sensors.js';
import { browserTestBlocked, CHROMIUM, CHROMIUM_ARGS, pageMedia, startLiveHls } from '../helpers/browser.js';
import { waitFor } from '../helpers/waitFor.js';
import { FakeCatalog, FakePipeline, runningCamera, testConfig } from '../unit/http/fakes.js';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/sysfs/', import.meta.url));

// The test is type-checked without the DOM library; page-side callbacks name only what they touch.
type Media = { currentTime: number };

const blocked = browserTestBlocked();
if (blocked) {
  t.plan(0, blocked);
} else {
  t.test('status page plays live video, shows health and plays an archive', async (t) => {
    const { hlsRoot, archiveRoot } = await pageMedia(t.testdir());
    const startLive = async (): Promise<ChildProcess> => {
      const child = await startLiveHls(hlsRoot);
      t.teardown(() => {
        child.kill('SIGKILL');
      });
      return child;
    };
    let ffmpeg = await startLive();

    const config = testConfig({ archiveDir: archiveRoot, hlsDir: hlsRoot });
    const pipeline = new FakePipeline([runningCamera('cam1', { fps: 15, restarts: 1 })], hlsRoot);
    const health = new HealthCollector({
      config: () => config,
      pipeline,
      sensors: new Sensors({ sysRoot: join(FIXTURES, 'pi4'), vcgencmd: async () => 'throttled=0x50000' }),
      extra: () => ({ outbox: { depth: 0 } }),
    });
    const analysis = {
      summary: 'A test pattern moves across the frame.',
      events: [{ start: '00:00', end: '00:04', label: 'motion', description: 'pattern moves', severity: 'low' }],
    };
    const serverDeps = {
      config: () => config,
      log: silentLogger(),
      pipeline,
      archives: new FakeCatalog(archiveRoot, async () => analysis),
      health,
      status: async () => ({
        device: 'gate-01',
        version: '0.1.0',
        uptime: 3723,
        mqtt: { connected: true, url: 'embedded' },
      }),
      token: null,
    };
    let server = new HttpServer(serverDeps);
    await server.start();
    t.teardown(() => server.stop());
    const port = server.port as number;

    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    t.teardown(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const consoleErrors: string[] = [];
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    await page.goto(`http://127.0.0.1:${port}/`);

    // Live: currentTime must advance by at least 2 s.
    const live = page.locator('video.live[data-camera="cam1"]');
    await live.waitFor();
    const liveTime = () => live.evaluate((v: Media) => v.currentTime);
    await waitFor('live video starts', async () => (await liveTime()) > 0, 20000);
    const t0 = await liveTime();
    await waitFor('live video advances 2 s', async () => (await liveTime()) >= t0 + 2, 20000);
    const t1 = await liveTime();
    t.ok(t1 - t0 >= 2, `live video advanced ${(t1 - t0).toFixed(2)} s`);

    // Health figures and pipeline figures.
    await page.waitForSelector('[data-value="temperature"]');
    t.match(await page.textContent('[data-value="temperature"]'), /48\.7 °C/);
    t.match(await page.textContent('[data-value="cpu"]'), /\d+ %/);
    t.match(await page.textContent('[data-value="disk"]'), /\d+ % free/);
    t.match(await page.textContent('[data-value="mqtt"]'), /connected/);
    t.match(await page.textContent('[data-tile="throttling"]'), /under voltage ever/);
    t.equal(await page.textContent('[data-camera="cam1"] .state'), 'running');
    t.equal(await page.textContent('[data-camera="cam1"] [data-figure="encoder"]'), 'libx264');
    t.equal(await page.textContent('#device'), 'gate-01');
    t.ok(await page.locator('#login').isHidden(), 'on loopback no token is asked for');

    // An archive from the list plays, with its analysis shown.
    const item = page.locator('#archives li[data-file="cam1/2026-11-01/archive_20261101T100000Z.mp4"]');
    await item.waitFor();
    t.match(await item.textContent(), /A test pattern moves across the frame/);
    await item.locator('button.play').click();
    const archiveTime = () => page.locator('#archive-player').evaluate((v: Media) => v.currentTime);
    await waitFor('archive plays', async () => (await archiveTime()) > 0, 15000);
    t.ok((await archiveTime()) > 0, 'archive plays');

    await mkdir(ARTIFACTS, { recursive: true });
    await page.waitForTimeout(1000); // let the archive render a frame for the screenshot
    await page.screenshot({ path: join(ARTIFACTS, 'status-page.png'), fullPage: true });
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await phone.goto(`http://127.0.0.1:${port}/`);
    await phone.waitForSelector('[data-value="temperature"]');
    await phone.waitForSelector('#archives li[data-file]');
    const overflow = await phone
      .locator('html')
      .evaluate((html: { scrollWidth: number; clientWidth: number }) => html.scrollWidth - html.clientWidth);
    t.ok(overflow <= 0, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
    await phone.screenshot({ path: join(ARTIFACTS, 'status-page-phone.png'), fullPage: true });
    await phone.close();

    // The agent restarts (server and FFmpeg gone, the stream starts over): the page notices,
    // keeps retrying, and the live player plays again without a reload.
    await server.stop();
    ffmpeg.kill('SIGKILL');
    const link = page.locator('#link');
    await waitFor(
      'the page sees the agent gone',
      async () => /unreachable/.test((await link.textContent()) ?? ''),
      10000,
    );
    t.pass('page shows the agent unreachable');
    await rm(join(hlsRoot, 'cam1'), { recursive: true, force: true });
    await mkdir(join(hlsRoot, 'cam1'), { recursive: true });
    await new Promise((r) => setTimeout(r, 2000));
    ffmpeg = await startLive();
    server = new HttpServer({
      ...serverDeps,
      config: () => ({ ...config, http: { ...config.http, listen: `127.0.0.1:${port}` } }),
    });
    await server.start();
    await waitFor('the page sees the agent back', async () => /online/.test((await link.textContent()) ?? ''), 10000);
    const t2 = await liveTime();
    await waitFor('live video plays again after the restart', async () => (await liveTime()) >= t2 + 2, 45000);
    t.pass(`live video plays again after the agent restart (${((await liveTime()) - t2).toFixed(1)} s)`);
    t.same(consoleErrors, [], 'no page errors');
  });
}

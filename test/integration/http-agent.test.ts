/**
 * The HTTP server on a real agent (agent/agent.ts's Agent with a test-pattern camera and the real
 * pipeline, catalog and FFmpeg): /healthz follows the pipeline, live HLS is served with the
 * right headers and plays in Chromium, and the archive written at stop downloads with ranges.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../../agent/agent.js';
import { HealthCollector } from '../../agent/health/collector.js';
import { HttpServer } from '../../agent/http/server.js';
import { silentLogger } from '../../agent/util/logger.js';
import { Sensors } from '../../device/sensors.js';
import { CHROMIUM, CHROMIUM_ARGS, hasFfmpeg } from '../helpers/browser.js';
import { waitFor } from '../helpers/waitFor.js';
import { testConfig } from '../unit/http/fakes.js';

t.test('http server on a running agent', { skip: hasFfmpeg() ? false : 'ffmpeg missing' }, async (t) => {
  const dir = t.testdir();
  const config = testConfig({ archiveDir: join(dir, 'archive'), hlsDir: join(dir, 'hls') });
  config.dataDir = join(dir, 'data');
  // No broker here: the link just retries, and parallel tests never fight over port 1883.
  config.mqtt.url = 'mqtt://127.0.0.1:1';
  const agent = new Agent(config, null, silentLogger());
  await agent.start();
  let agentRunning = true;
  t.teardown(() => (agentRunning ? agent.stop() : undefined));
  const server = new HttpServer({
    config: () => config,
    log: silentLogger(),
    pipeline: agent.pipeline,
    archives: agent.archives,
    health: new HealthCollector({ config: () => config, pipeline: agent.pipeline, sensors: new Sensors() }),
    status: async () => ({ device: config.device.id, version: 'test', uptime: 1, mqtt: null }),
    token: null,
  });
  await server.start();
  t.teardown(() => server.stop());
  const base = `http://127.0.0.1:${server.port}`;

  await waitFor('/healthz says 200', async () => (await fetch(`${base}/healthz`)).status === 200, 15000);
  t.pass('/healthz 200 once the pipeline produces frames');
  await waitFor(
    'the playlist is served',
    async () => (await fetch(`${base}/hls/cam1/index.m3u8`)).status === 200,
    10000,
  );
  const playlist = await fetch(`${base}/hls/cam1/index.m3u8`);
  t.equal(playlist.headers.get('content-type'), 'application/vnd.apple.mpegurl');
  t.match(playlist.headers.get('cache-control'), /no-cache/);
  const text = await playlist.text();
  const segment = text.split('\n').find((line) => line && !line.startsWith('#'));
  t.ok(segment, 'playlist names a segment');
  const seg = await fetch(`${base}/hls/cam1/${segment}`);
  t.equal(seg.status, 200);
  t.match(seg.headers.get('content-type'), /video\/(mp2t|iso.segment|mp4)/);
  t.ok((await seg.arrayBuffer()).byteLength > 0);

  const status = (await (await fetch(`${base}/api/status`)).json()) as any;
  t.match(status.cameras, [{ camera: 'cam1', state: 'running' }]);
  t.ok(status.cameras[0].encoder, 'encoder named');
  t.ok(status.disk && status.disk.totalBytes > 0, 'disk of archive.dir');

  if (existsSync(CHROMIUM)) {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      await page.goto(`${base}/`);
      const live = page.locator('video.live[data-camera="cam1"]');
      await live.waitFor();
      const liveTime = () => live.evaluate((v: { currentTime: number }) => v.currentTime);
      await waitFor('the live video starts', async () => (await liveTime()) > 0, 20000);
      const t0 = await liveTime();
      await waitFor('the live video advances 2 s', async () => (await liveTime()) >= t0 + 2, 20000);
      t.pass('the real pipeline plays live in Chromium');
    } finally {
      await browser.close();
    }
  } else {
    t.comment(`${CHROMIUM} missing: browser part skipped`);
  }

  await agent.stop();
  agentRunning = false;
  const down = await fetch(`${base}/healthz`);
  t.equal(down.status, 503, '/healthz 503 once the pipeline is stopped');
  t.match(((await down.json()) as any).reasons, [/cam1: pipeline/]);

  const archives = (await (await fetch(`${base}/api/archives?camera=cam1&limit=5`)).json()) as any[];
  t.ok(archives.length >= 1, 'the archive finished at stop is listed');
  const url = archives[0].url as string;
  const full = await fetch(`${base}${url}`);
  t.equal(full.status, 200);
  t.equal(full.headers.get('content-type'), 'video/mp4');
  const size = Number(full.headers.get('content-length'));
  t.equal((await full.arrayBuffer()).byteLength, size);
  const part = await fetch(`${base}${url}`, { headers: { Range: 'bytes=0-7' } });
  t.equal(part.status, 206);
  t.equal(part.headers.get('content-range'), `bytes 0-7/${size}`);
  t.match(
    Buffer.from(await part.arrayBuffer())
      .subarray(4, 8)
      .toString(),
    'ftyp',
    'an MP4 starts with ftyp',
  );
  const outside = await fetch(`${base}${url.replace(/archive_[^/]+$/, '..%2f..%2f..%2fetc%2fpasswd')}`);
  t.equal(outside.status, 400);
});

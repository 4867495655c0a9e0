/**
 * The status page off loopback, in Debian's Chromium (playwright-core): it asks for the token
 * once, trades it for an HttpOnly SameSite=Strict cookie, and then the page, hls.js, the archive
 * player and downloads all work on that cookie; a wrong token is refused; signing out ends it;
 * no CSP violation. Also DNS rebinding as a browser does it: a foreign name mapped to this
 * machine gets nothing.
 */
import t from 'tap';
import { stat } from 'node:fs/promises';
import { HttpServer } from '../../agent/http/server.js';
import { silentLogger } from '../../agent/util/logger.js';
import {
  browserTestBlocked,
  CHROMIUM,
  CHROMIUM_ARGS as BASE_ARGS,
  pageMedia,
  startLiveHls,
} from '../helpers/browser.js';
import { waitFor } from '../helpers/waitFor.js';
import { FakeCatalog, FakePipeline, runningCamera, testConfig } from '../unit/http/fakes.js';

const CHROMIUM_ARGS = [
  ...BASE_ARGS,
  // DNS rebinding stand-in: a site's name that resolves to this machine.
  '--host-resolver-rules=MAP rebind.example 127.0.0.1',
];
const TOKEN = 'page-token-0123456789';

type Media = { currentTime: number };

const blocked = browserTestBlocked();
if (blocked) {
  t.plan(0, blocked);
} else {
  t.test('off loopback the page asks for the token once and everything works on its cookie', async (t) => {
    const dir = t.testdir();
    const { hlsRoot, archiveRoot, archive } = await pageMedia(dir);
    const live = await startLiveHls(hlsRoot);
    t.teardown(() => {
      live.kill('SIGKILL');
    });

    const config = testConfig({ archiveDir: archiveRoot, hlsDir: hlsRoot, listen: '0.0.0.0:0' });
    const server = new HttpServer({
      config: () => config,
      log: silentLogger(),
      pipeline: new FakePipeline([runningCamera('cam1')], hlsRoot),
      archives: new FakeCatalog(archiveRoot),
      health: { snapshot: async () => ({}) },
      status: async () => ({ device: 'gate-01', version: '0.1.0', uptime: 5 }),
      token: TOKEN,
    });
    await server.start();
    t.teardown(() => server.stop());
    const base = `http://127.0.0.1:${server.port}`;

    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    t.teardown(() => browser.close());
    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('console', (m) => {
      if (/Content[- ]Security[- ]Policy|Refused to/i.test(m.text())) problems.push(m.text());
    });
    await page.goto(`${base}/`);

    // Asked once; nothing of the agent shown before.
    await page.locator('#login').waitFor({ state: 'visible' });
    t.ok(await page.locator('#content').isHidden(), 'the status is hidden until the token is given');
    t.equal(await page.textContent('#device'), 'edge-agent', 'no device name before the token');
    await page.fill('#token', 'not-the-token');
    await page.click('#login-form button[type=submit]');
    await waitFor(
      'a wrong token is refused',
      async () => /Wrong token/.test((await page.textContent('#login-error')) ?? ''),
      5000,
    );
    t.pass('a wrong token is refused');

    await page.fill('#token', TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.locator('#content').waitFor({ state: 'visible' });
    t.ok(await page.locator('#login').isHidden(), 'the form goes away');
    const cookies = await context.cookies(base);
    t.match(cookies, [{ name: 'edge_agent_session', httpOnly: true, sameSite: 'Strict', secure: false }]);
    t.notOk(
      cookies.some((c) => c.value.includes(TOKEN)),
      'the cookie is not the token',
    );
    t.equal(
      await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie),
      '',
      'the page script cannot read it',
    );

    // hls.js on the cookie.
    const video = page.locator('video.live[data-camera="cam1"]');
    await video.waitFor();
    const liveTime = () => video.evaluate((v: Media) => v.currentTime);
    await waitFor('live video starts', async () => (await liveTime()) > 0, 20000);
    const t0 = await liveTime();
    await waitFor('live video advances 2 s', async () => (await liveTime()) >= t0 + 2, 20000);
    t.pass('live HLS plays on the session cookie');
    t.equal(await page.textContent('#device'), 'gate-01');

    // The archive player and a download, on the cookie.
    const item = page.locator('#archives li[data-file="cam1/2026-11-01/archive_20261101T100000Z.mp4"]');
    await item.waitFor();
    await item.locator('button.play').click();
    const archiveTime = () => page.locator('#archive-player').evaluate((v: Media) => v.currentTime);
    await waitFor('archive plays', async () => (await archiveTime()) > 0, 15000);
    t.pass('the archive plays on the cookie');
    const [download] = await Promise.all([page.waitForEvent('download'), item.locator('a.download').click()]);
    const saved = await download.path();
    t.equal((await stat(saved)).size, (await stat(archive)).size, 'the download is the whole archive');

    // A reload keeps the session: not asked again.
    await page.reload();
    await page.locator('video.live[data-camera="cam1"]').waitFor();
    t.ok(await page.locator('#login').isHidden(), 'not asked again after a reload');

    // Signing out (a DELETE with the CSRF token) ends the session.
    await page.click('#logout');
    await page.locator('#login').waitFor({ state: 'visible' });
    t.match(await page.textContent('#login-error'), /Signed out/);
    const after = await page.request.get(`${base}/api/status`);
    t.equal(after.status(), 401, 'the API refuses the browser after signing out');
    t.same(problems, [], 'no page errors and no CSP violations');

    // DNS rebinding: a page on a foreign name that resolves here is refused, page and API alike.
    const rebound = await context.newPage();
    const reply = await rebound.goto(`http://rebind.example:${server.port}/`);
    t.equal(reply?.status(), 421, 'a foreign Host gets 421');
    t.notMatch(await rebound.content(), /<video|app\.js/, 'and no page');
  });
}

/**
 * Search end to end: the real agent records, the (fake) Gemini API analyses the archives, the
 * results go into the FTS5 index; in headless Chromium the status page's search box finds the
 * known event, the hit plays its archive through /archives/... (range requests), and the video
 * starts at the event (`#t=<offset>`). The same hit comes from GET /api/search.
 */
import t from 'tap';
import { AgentProcess, testConfig } from '../helpers/agentProcess.js';
import { waitFor } from '../helpers/waitFor.js';
import { browserTestBlocked, CHROMIUM, CHROMIUM_ARGS } from '../helpers/browser.js';
import { FakeGemini } from '../helpers/fakeGemini.js';

// The test is type-checked without the DOM library; page-side callbacks name only what they touch.
type Media = {
  currentTime: number;
  readyState: number;
  duration: number;
  currentSrc: string;
  played: { length: number; start(i: number): number; end(i: number): number };
};
type Hit = {
  camera: string;
  archive: string;
  start: string;
  offsetSeconds: number;
  summary: string;
  label?: string;
  description?: string;
};

const OFFSET = 2;
const answer = () => ({
  summary: 'A yellow forklift moves pallets across the loading bay.',
  events: [
    {
      start: `00:0${OFFSET}`,
      end: `00:0${OFFSET + 1}`,
      label: 'forklift',
      description: 'A forklift lifts a pallet next to the roller door.',
      severity: 'info',
    },
  ],
});

const blocked = browserTestBlocked();
if (blocked) {
  t.plan(0, blocked);
} else {
  t.test('the search box finds a known event and plays its archive from the event', async (t) => {
    const dir = t.testdir();
    const gemini = await new FakeGemini({ answer }).start();
    t.teardown(() => gemini.close());
    const config = testConfig(dir, { analysis: { enabled: true, baseUrl: gemini.url, maxPerDay: 50 } });
    const agent = AgentProcess.start(dir, config, { GEMINI_API_KEY: gemini.apiKey });
    t.teardown(() => agent.stop());
    const [listening] = await agent.waitLog('http listening');
    const base = `http://127.0.0.1:${String(listening!.port)}`;

    // An archive long enough to hold the event at OFFSET s (the first after a start may be shorter: clamped).
    // An archive of exactly OFFSET s (a short first one) holds the event at its very end and
    // leaves nothing to play: take one with 2 s to play after the event.
    const hit = await waitFor(
      'an indexed event at the offset, with 2 s of archive after it',
      async () => {
        const hits = (await (await fetch(`${base}/api/search?q=forklift`)).json()) as Hit[];
        const lengths = (await (await fetch(`${base}/api/archives?limit=100`)).json()) as Array<{
          file: string;
          seconds: number;
        }>;
        return (
          hits.find(
            (h) =>
              h.offsetSeconds === OFFSET && (lengths.find((a) => a.file === h.archive)?.seconds ?? 0) >= OFFSET + 2,
          ) ?? null
        );
      },
      90_000,
      500,
    );
    t.match(hit, {
      camera: 'cam1',
      archive: /^cam1\/\d{4}-\d{2}-\d{2}\/archive_\d{8}T\d{6}Z\.mp4$/,
      label: 'forklift',
      description: /roller door/,
      summary: /yellow forklift/,
    });
    const archives = (await (await fetch(`${base}/api/archives?limit=100`)).json()) as Array<{
      file: string;
      start: string;
    }>;
    const archiveStart = archives.find((a) => a.file === hit.archive)!.start;
    t.equal(
      Date.parse(hit.start) - Date.parse(archiveStart),
      OFFSET * 1000,
      'start is the event time: the archive start + offsetSeconds',
    );
    const bad = await fetch(`${base}/api/search?q=forklift&limit=0`);
    t.equal(bad.status, 400, 'bad input: 400');
    t.match(await bad.json(), { error: { code: 'bad_request', message: /limit must be an integer/ } });

    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    t.teardown(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    const ranges: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/archives/')) ranges.push(r.headers().range ?? '(none)');
    });
    await page.goto(`${base}/`);
    await page.fill('#search-q', 'pallet forklift');
    await page.click('#search-form button[type="submit"]');
    const item = page.locator(`#search-results li[data-archive="${hit.archive}"][data-offset="${OFFSET}"]`);
    await item.waitFor({ timeout: 15_000 });
    t.match(await item.textContent(), /roller door/, 'the hit shows the event');
    await item.locator('button.play-hit').click();

    const player = page.locator('#search-player');
    // `startedAt`: where playback began (the first played range), which a busy machine's late poll
    // cannot move; before any playback, the position itself.
    const state = () =>
      player.evaluate((v: Media) => ({
        currentTime: v.currentTime,
        startedAt: v.played.length > 0 ? v.played.start(0) : v.currentTime,
        playedTo: v.played.length > 0 ? v.played.end(v.played.length - 1) : v.currentTime,
        readyState: v.readyState,
        duration: v.duration,
        currentSrc: v.currentSrc,
      }));
    let first = await state();
    await waitFor(
      'the archive loads',
      async () => ((first = await state()).readyState >= 1 ? first : null),
      15_000,
      50,
    );
    t.ok(
      first.currentSrc.endsWith(`/archives/${hit.archive}#t=${OFFSET}`),
      `the archive is loaded seeked to the event (${first.currentSrc})`,
    );
    t.ok(first.duration > OFFSET, `the video is the archive (${first.duration} s)`);
    t.ok(
      first.startedAt >= OFFSET - 0.05 && first.startedAt < OFFSET + 1,
      `currentTime starts at the event (${first.startedAt} s)`,
    );
    // Played ranges, not the position: the 2 s after the event may be over before a poll on a busy machine.
    await waitFor(
      'the archive plays',
      async () => {
        const now = await state();
        return now.playedTo > now.startedAt + 0.2;
      },
      15_000,
      100,
    );
    t.ok(
      ranges.some((r) => r.startsWith('bytes=')),
      `the video is fetched with range requests (${ranges.join(', ')})`,
    );
    await page.fill('#search-q', 'zeppelin');
    await page.click('#search-form button[type="submit"]');
    await waitFor(
      'no matches',
      async () => /No matches/.test((await page.textContent('#search-status')) ?? ''),
      10_000,
    );
    t.equal(await page.locator('#search-results li').count(), 0);
    t.same(pageErrors, [], 'no page errors');
  });
}

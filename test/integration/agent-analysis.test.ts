/**
 * The real agent with analysis on: finished archives go through the proxy, the (fake) Gemini
 * API and the durable outbox to R/analysis, once each, with the id of the archive's event;
 * list-archives then says analysed. With the API down, archive.finished still leaves on time.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { waitFor } from '../helpers/waitFor.js';
import { analysisAgentWorld } from '../helpers/analysisAgent.js';
import { TestClient } from '../helpers/mqttClient.js';

t.test('archives are analysed and the results reach R/analysis', async (t) => {
  const dir = t.testdir();
  const { gemini, broker, watcher, root, startAgent } = await analysisAgentWorld(t, dir, [
    'analysis',
    'events',
    'analysis/budget',
  ]);

  startAgent({ maxPerDay: 20 });

  const result = await watcher.waitFor((m) => m.topic === `${root}/analysis`, 60_000);
  t.match(
    result.json,
    {
      camera: 'cam1',
      archive: /^cam1\/\d{4}-\d{2}-\d{2}\/archive_\d{8}T\d{6}Z\.mp4$/,
      start: String,
      end: String,
      model: String,
      summary: /person/,
      events: [{ label: 'person', severity: 'info' }],
      ts: String,
    },
    'the contract payload',
  );
  t.same(gemini.problems, [], 'the fake API saw well-formed requests (real MP4 uploads, the schema, the key)');
  t.ok(gemini.counts.deletes >= 1, 'uploaded files are deleted');

  const client = await TestClient.connect(broker.url, { protocolVersion: 5 });
  t.teardown(() => client.end());
  const archive = (result.json as { archive: string }).archive;
  const list = await client.command(`${root}/cmd/list-archives`, { camera: 'cam1', limit: 20 }, 'v5', 'replies/a');
  const entries = (list.json as { result: Array<{ file: string; analysed: boolean }> }).result;
  t.equal(entries.find((e) => e.file === archive)?.analysed, true, 'list-archives marks the archive analysed');
  const results = watcher.on(`${root}/analysis`).filter((m) => (m.json as { archive: string }).archive === archive);
  t.equal(results.length, 1, 'one result per archive');

  const finished = watcher
    .on(`${root}/events`)
    .map((m) => m.json as { type: string; file?: string; id?: string; motion?: unknown })
    .find((e) => e.type === 'archive.finished' && e.file === archive);
  t.type(finished?.id, 'string', 'archive.finished carries its id');
  t.equal((result.json as { eventId?: string }).eventId, finished?.id, 'the result carries the same id as eventId');
  // The first archive after a start is short, and its first seconds may pass before the meter's first frame.
  const second = await watcher.waitFor(
    (m) =>
      m.topic === `${root}/events` &&
      (m.json as { type: string }).type === 'archive.finished' &&
      m !== watcher.on(`${root}/events`).find((e) => (e.json as { type: string }).type === 'archive.finished'),
    30_000,
  );
  t.type(
    (second.json as { motion?: unknown }).motion,
    'number',
    'a full archive.finished carries the motion score of the moving test pattern',
  );
  const budget = await watcher.waitFor(
    (m) => m.topic === `${root}/analysis/budget` && (m.json as { requestsUsed: number }).requestsUsed >= 1,
  );
  t.match(
    budget.json,
    {
      tokensUsed: Number,
      tokenLimit: null,
      requestsUsed: Number,
      requestLimit: null,
      resetsAt: String,
      queued: Number,
      ts: String,
    },
    'R/analysis/budget',
  );
});

t.test(
  'Gemini unreachable: every archive.finished still reaches the broker within 2 s of its archive closing',
  async (t) => {
    const dir = t.testdir();
    const { gemini, watcher, root, startAgent } = await analysisAgentWorld(t, dir, []);
    gemini.down = true;
    const arrived: Array<{
      at: number;
      event: { type: string; file: string; start: string; seconds: number; id?: string; motion?: number };
    }> = [];
    watcher.client.on('message', (topic, payload) => {
      const event = JSON.parse(payload.toString()) as (typeof arrived)[number]['event'];
      if (topic === `${root}/events` && event.type === 'archive.finished') arrived.push({ at: Date.now(), event });
    });
    await watcher.subscribe(`${root}/events`);
    const agent = startAgent({ maxPerDay: 20 });
    await waitFor('three archive.finished', () => arrived.length >= 3, 60_000);
    t.ok(
      gemini.seen.some((s) => s.path === 'down'),
      'the agent tried the API, which was down',
    );
    for (const { at, event } of arrived) {
      // Closed = the finished MP4 written (its mtime); the recording itself ended at start + seconds,
      // and the recorder's once-a-second look plus the remux come between the two.
      const closed = (await stat(path.join(dir, 'archive', event.file))).mtimeMs;
      const ended = Date.parse(event.start) + event.seconds * 1000;
      t.ok(
        at - closed <= 2000,
        `archive.finished ${Math.round(at - closed)} ms after its archive closed (${at - ended} ms after its last frame)`,
      );
      t.type(event.id, 'string');
    }
    t.ok(
      arrived.slice(1).every(({ event }) => typeof event.motion === 'number'),
      'full archives carry a motion score',
    );
    t.notOk(agent.logs('archive analysed').length, 'nothing was analysed');
  },
);

/**
 * `edge-agent fleet status --broker`: the live table read from each board's retained R/release and
 * R/status on a real Mosquitto (the boards' messages are published here as the agent publishes
 * them): release, update state, link and last seen, for --group, --devices and a roll-out's --state.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { fleetCommand } from '../../agent/cli/fleet.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqttClient.js';

const minutesAgo = (n: number) => new Date(Date.now() - n * 60_000).toISOString();

t.test('fleet status --broker tabulates release, update state, link and last seen', async (t) => {
  const dir = t.testdir();
  const broker = new Mosquitto({ dir: path.join(dir, 'broker') });
  await broker.start();
  t.teardown(() => broker.stop());
  const boards = await TestClient.connect(broker.url);
  t.teardown(() => boards.end());
  const retain = (topic: string, body: object) =>
    boards.client.publishAsync(topic, JSON.stringify(body), { qos: 1, retain: true });
  await retain('edge/gate-01/status', { state: 'online', version: '1.3.0', session: 4, ts: minutesAgo(1) });
  await retain('edge/gate-01/release', {
    running: '1.3.0',
    previous: '1.2.0',
    update: { state: 'done', version: '1.3.0', reason: null },
    ts: minutesAgo(1),
  });
  await retain('edge/gate-02/status', { state: 'offline', version: '1.2.0', session: 9, ts: minutesAgo(300) });
  await retain('edge/gate-02/release', {
    running: '1.2.0',
    previous: null,
    update: { state: 'rolled-back', version: '1.3.0', reason: 'camera cam1 produced no frames' },
    ts: minutesAgo(301),
  });
  await retain('edge/yard-01/status', { state: 'online', version: '1.2.0', session: 1, ts: minutesAgo(0) });

  const run = async (...args: string[]) => {
    const lines: string[] = [];
    const code = await fleetCommand(['status', '--broker', broker.url, ...args], (l) => lines.push(l));
    return { code, text: lines.join('\n') };
  };

  const group = await run('--group', 'gate-');
  t.equal(group.code, 0);
  const rows = group.text.split('\n');
  t.match(rows[0], /^board\s+release\s+update\s+link\s+last seen$/, 'a header');
  t.match(
    rows.find((r) => r.startsWith('gate-01')),
    /^gate-01\s+1\.3\.0\s+done 1\.3\.0\s+online\s+\S+Z \(\d+ s ago\)$/,
    'gate-01: updated, online',
  );
  t.match(
    rows.find((r) => r.startsWith('gate-02')),
    /^gate-02\s+1\.2\.0\s+rolled-back 1\.3\.0\s+offline\s+\S+Z \(5 h ago\)$/,
    'gate-02: rolled back, offline for 5 h',
  );
  t.notOk(
    rows.some((r) => r.startsWith('yard-01')),
    'only the group',
  );
  t.match(group.text, /2 board\(s\), 1 online$/);

  const list = path.join(dir, 'boards.txt');
  writeFileSync(list, 'yard-01\n# spare\ngate-09\n');
  const named = await run('--devices', list);
  t.match(
    named.text,
    /^yard-01\s+\?\s+-\s+online\s+\S+Z \(\d+ s ago\)$/m,
    'a board without R/release yet: release unknown, no update',
  );
  t.match(named.text, /^gate-09\s+\?\s+-\s+unknown\s+never$/m, 'a board the broker never saw');

  const state = path.join(dir, 'rollout-1.3.0.json');
  writeFileSync(
    state,
    JSON.stringify({
      format: 1,
      version: '1.3.0',
      sha256: 'x',
      url: 'https://releases.example/x.tar.gz',
      topicPrefix: 'edge',
      stages: [['gate-01'], ['gate-02']],
      boards: {
        'gate-01': { stage: 0, state: 'done', reason: null, publishedAt: 1, finishedAt: 2 },
        'gate-02': { stage: 1, state: 'rolled-back', reason: 'x', publishedAt: 1, finishedAt: 2 },
      },
      status: 'done',
      reason: null,
      startedAt: minutesAgo(10),
    }),
  );
  const ofRollout = await run('--state', state);
  t.match(ofRollout.text, /^gate-01\s+1\.3\.0/m);
  t.match(ofRollout.text, /^gate-02\s+1\.2\.0/m);
  t.match(ofRollout.text, /2 board\(s\), 1 online$/, "the roll-out's boards, live");

  t.equal(await fleetCommand(['status'], () => undefined), 2, 'neither --state nor --broker: usage error');
});

/**
 * Issue 17 item 3: `edge-agent fleet rollout|rollback|status` through one real Mosquitto and
 * nothing else, against 50-60 simulated boards, each running the real board-side updater
 * (deploy/lib/update/machine.mjs) on faked files in virtual time (test/helpers/simBoard.ts).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { fleetCommand } from '../../agent/cli/fleet.js';
import { loadRollout } from '../../agent/fleet/state.js';
import { ROOT } from '../helpers/agentProcess.js';
import { waitFor } from '../helpers/waitFor.js';
import { GOOD_SIG, fakeManifest } from '../helpers/fakeUpdateOps.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { SimulatedBoard } from '../helpers/simBoard.js';
import { agentCliArgs } from '../helpers/cli.js';

const broker = new Mosquitto({ dir: t.testdir({ broker: {} }) });
t.before(() => broker.start());
t.teardown(() => broker.stop());

/** Files of one release as pack.sh --sign writes them. */
function releaseFiles(dir: string, version: string): string {
  const file = path.join(dir, `edge-agent-${version}-linux-x64.manifest.json`);
  writeFileSync(file, JSON.stringify(fakeManifest(version)));
  writeFileSync(file.replace(/\.json$/, '.sig'), `${GOOD_SIG}\n`);
  return file;
}

/** `count` boards named `<group>-NN`, started; stopped at the end of `t`. */
async function fleet(
  t: Test,
  group: string,
  count: number,
  setup: (b: SimulatedBoard, i: number) => void = () => undefined,
): Promise<SimulatedBoard[]> {
  const boards = Array.from(
    { length: count },
    (_, i) => new SimulatedBoard(`${group}-${String(i).padStart(2, '0')}`, broker.url),
  );
  boards.forEach(setup);
  await Promise.all(boards.map((b) => b.start()));
  t.teardown(() => Promise.all(boards.map((b) => b.stop())));
  return boards;
}

async function fleetCli(args: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await fleetCommand(args, (l) => lines.push(l));
  return { code, lines };
}

t.test('60 boards found by --group: canary, 10 %, 50 %, 100 %; every board updated once; status table', async (t) => {
  const dir = t.testdir({});
  const boards = await fleet(t, 'site-a', 60);
  await fleet(t, 'site-b', 3);
  const manifest = releaseFiles(dir, '2.0.0');
  const state = path.join(dir, 'rollout.json');
  const run = await fleetCli([
    'rollout',
    '--manifest',
    manifest,
    '--url',
    'https://releases.example/2.0.0.tar.gz',
    '--broker',
    broker.url,
    '--group',
    'site-a',
    '--state',
    state,
    '--timeout',
    '60',
  ]);
  t.equal(run.code, 0, 'exit 0', { lines: run.lines });
  t.same(
    run.lines.filter((l) => /^stage \d\/4 through/.test(l)),
    [
      'stage 1/4 through: 1 done, 0 rolled back, 0 failed, 0 timed out',
      'stage 2/4 through: 5 done, 0 rolled back, 0 failed, 0 timed out',
      'stage 3/4 through: 24 done, 0 rolled back, 0 failed, 0 timed out',
      'stage 4/4 through: 30 done, 0 rolled back, 0 failed, 0 timed out',
    ],
    'progress per stage (1, then to 6, 30 and 60 boards)',
  );
  t.match(run.lines.at(-1), /roll-out of 2\.0\.0 done: 60 done, 0 failed/);
  t.ok(
    boards.every((b) => b.running() === '2.0.0' && b.updates === 1),
    'every board of the group runs 2.0.0, updated once',
  );
  const saved = await loadRollout(state);
  t.equal(saved?.status, 'done');
  t.equal(Object.keys(saved!.boards).length, 60, 'site-b is not in the group');
  const status = await fleetCli(['status', '--state', state]);
  t.equal(status.code, 0);
  const table = status.lines.join('\n').split('\n');
  t.match(table[0], /^roll-out of 2\.0\.0: done, 4 stage\(s\), 60 board\(s\)/);
  t.equal(table.filter((l) => /^site-a-\d\d\s+\d\s+done$/.test(l)).length, 60, 'one line per board: id, stage, state');
  t.match(table.at(-1), /^done 60$/);

  // Roll-back on request: the boards the roll-out updated get the release they ran before.
  const old = releaseFiles(dir, '1.0.0');
  const back = await fleetCli([
    'rollback',
    '--state',
    state,
    '--manifest',
    old,
    '--url',
    'https://releases.example/1.0.0.tar.gz',
    '--broker',
    broker.url,
    '--stages',
    '10%,100%',
  ]);
  t.equal(back.code, 0, 'rollback exits 0', { lines: back.lines });
  t.ok(
    boards.every((b) => b.running() === '1.0.0'),
    'every board runs 1.0.0 again',
  );
  t.equal((await loadRollout(path.join(dir, 'rollout.rollback.json')))?.status, 'done', 'with its own state file');
});

t.test('failing boards in the second stage trip the abort rule: later boards are never asked', async (t) => {
  const dir = t.testdir({});
  // Boards 01-04 are stage 2 (up to 10 % of 50 = 5 boards): three of them cannot run 2.0.0.
  const boards = await fleet(t, 'abort', 50, (b, i) => void (i >= 1 && i <= 3 && b.behave('2.0.0', 'crash')));
  const devices = path.join(dir, 'devices.txt');
  writeFileSync(devices, `# the fleet\n${boards.map((b) => b.id).join('\n')}\n`);
  const state = path.join(dir, 'rollout.json');
  const run = await fleetCli([
    'rollout',
    '--manifest',
    releaseFiles(dir, '2.0.0'),
    '--url',
    'https://releases.example/2.0.0.tar.gz',
    '--broker',
    broker.url,
    '--devices',
    devices,
    '--state',
    state,
    '--abort-percent',
    '40',
    '--abort-min',
    '3',
  ]);
  t.equal(run.code, 1, 'exit 1: aborted');
  t.match(run.lines.join('\n'), /aborted: [23] of [34] board\(s\) failed \(abort at 40 % of at least 3\)/);
  t.ok(
    boards.slice(5).every((b) => b.desired === 0),
    'no board after stage 2 got the release',
  );
  t.ok(
    boards
      .slice(1, 4)
      .filter((b) => b.updates === 1)
      .every((b) => b.running() === '1.0.0'),
    'the failing boards rolled themselves back',
  );
  const saved = await loadRollout(state);
  t.equal(saved?.status, 'aborted');
  t.match(
    Object.values(saved!.boards).filter((b) => b.state === 'rolled-back')[0]?.reason,
    /the new agent is not running/,
  );
  const again = await fleetCli([
    'rollout',
    '--manifest',
    releaseFiles(dir, '2.0.0'),
    '--url',
    'x',
    '--broker',
    broker.url,
    '--devices',
    devices,
    '--state',
    state,
  ]);
  t.equal(again.code, 1, 'running it again on an aborted state changes nothing');
});

t.test('--dry-run prints the plan and asks no board', async (t) => {
  const dir = t.testdir({});
  const boards = await fleet(t, 'dry', 12);
  const run = await fleetCli([
    'rollout',
    '--dry-run',
    '--manifest',
    releaseFiles(dir, '2.0.0'),
    '--url',
    'https://releases.example/2.0.0.tar.gz',
    '--broker',
    broker.url,
    '--group',
    'dry-',
    '--stages',
    '1,50%,100%',
    '--state',
    path.join(dir, 's.json'),
  ]);
  t.equal(run.code, 0);
  t.same(run.lines.slice(1, 4), [
    '  stage 1 (canary): dry-00',
    `  stage 2: ${boards
      .slice(1, 6)
      .map((b) => b.id)
      .join(' ')}`,
    `  stage 3: ${boards
      .slice(6)
      .map((b) => b.id)
      .join(' ')}`,
  ]);
  t.ok(
    boards.every((b) => b.desired === 0),
    'nothing published',
  );
});

t.test(
  'a roll-out killed (kill -9) in the middle of a stage resumes from its state file; no board updated twice',
  async (t) => {
    const dir = t.testdir({});
    // Stage 3 (boards 05-24: up to 50 % of 50) holds its updates until the roll-out has been killed.
    const boards = await fleet(t, 'resume', 50, (b, i) => void (i >= 5 && i < 25 && b.holdUpdates()));
    const args = [
      'rollout',
      '--manifest',
      releaseFiles(dir, '2.0.0'),
      '--url',
      'https://releases.example/2.0.0.tar.gz',
      '--broker',
      broker.url,
      '--group',
      'resume-',
      '--state',
      path.join(dir, 'rollout.json'),
    ];
    const cli = () =>
      spawn(process.execPath, [...agentCliArgs(), 'fleet', ...args], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    const first = cli();
    let out = '';
    first.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(
      'stage 3 published',
      () => out.includes('stage 3/4: 20 board(s)') && boards.slice(5, 25).every((b) => b.desired === 1),
      60_000,
    );
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const midway = await loadRollout(path.join(dir, 'rollout.json'));
    t.equal(midway?.status, 'running', 'killed while running');
    t.ok(
      Object.values(midway!.boards).some((b) => b.state === 'published'),
      'with boards still waited for',
    );
    for (const b of boards) b.release();
    const second = cli();
    let out2 = '';
    second.stdout.on('data', (d: Buffer) => (out2 += d.toString()));
    const code = await new Promise((resolve) => second.once('exit', resolve));
    t.equal(code, 0, 'the resumed roll-out ends done', { out: out2 });
    t.match(out2, /resuming the roll-out of 2\.0\.0/);
    t.notMatch(out2, /stage 1\/4|stage 2\/4/, 'the stages already through are not run again');
    t.ok(
      boards.every((b) => b.running() === '2.0.0'),
      'every board runs 2.0.0',
    );
    t.same(
      boards.filter((b) => b.updates !== 1).map((b) => b.id),
      [],
      'each board updated exactly once',
    );
    t.equal(JSON.parse(readFileSync(path.join(dir, 'rollout.json'), 'utf8')).status, 'done');
  },
);

t.test(
  'killed between recording a board as asked and asking it: the resumed roll-out asks it, with the same bytes',
  async (t) => {
    const dir = t.testdir({});
    const [board] = await fleet(t, 'gap', 1);
    const manifest = releaseFiles(dir, '2.0.0');
    const state = path.join(dir, 'rollout.json');
    const ts = new Date().toISOString();
    writeFileSync(
      state,
      JSON.stringify({
        format: 1,
        version: '2.0.0',
        sha256: fakeManifest('2.0.0').sha256,
        url: 'https://releases.example/2.0.0.tar.gz',
        topicPrefix: 'edge',
        stages: [['gap-00']],
        boards: {
          'gap-00': { stage: 0, state: 'published', reason: null, publishedAt: Date.parse(ts), ts, finishedAt: null },
        },
        status: 'running',
        reason: null,
        startedAt: ts,
      }),
    );
    const args = [
      'rollout',
      '--manifest',
      manifest,
      '--url',
      'https://releases.example/2.0.0.tar.gz',
      '--broker',
      broker.url,
      '--devices',
      '/dev/null',
      '--state',
      state,
    ];
    const run = await fleetCli(args);
    t.equal(run.code, 0, { lines: run.lines });
    t.equal(board!.running(), '2.0.0', 'the board was asked and updated');
    // The same document once more (a second resume): recognised, not a second update.
    const doc = readFileSync(state, 'utf8');
    writeFileSync(
      state,
      doc.replace('"status": "done"', '"status": "running"').replace(/"state": "done"/, '"state": "published"'),
    );
    t.equal((await fleetCli(args)).code, 0);
    await waitFor('the second delivery', () => board!.desired === 2, 10_000);
    t.pass('it got the document twice');
    t.equal(board!.updates, 1, 'and updated once');
  },
);

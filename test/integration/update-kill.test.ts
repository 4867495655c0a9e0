/**
 * Issue 17: a board that loses power in the middle of an update comes back on a release that
 * works. The root updater is killed with SIGKILL at each step of README "Updates: the steps"
 * (EDGE_AGENT_FAILPOINT=update.<step>, deploy/lib/update/machine.mjs), then run again as
 * edge-agent-update.service runs it at boot. Before the switch the update is finished; from the
 * switch on it is rolled back; either way the agent that runs at the end is online and R/release
 * says what happened. (update.test.ts has the cases that end without a kill.)
 */
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { releaseReport, updateBody, type SignedRelease } from '../helpers/updateBoard.js';
import { updateRig } from '../helpers/updateRig.js';

const {
  skip: SKIP,
  server,
  releases,
  boardOn1,
} = updateRig(t, [
  ['2.0.0', 'real'],
  ['3.0.0', 'crash'],
]);
const good = () => releases['2.0.0']!;
const crash = () => releases['3.0.0']!;

/** Each step's failpoint, the release tried, and where the board must end. */
const steps: Array<{
  step: string;
  release: () => SignedRelease;
  ends: 'done' | 'rolled-back';
  reason?: RegExp;
  stateAtKill: string;
}> = [
  { step: 'update.taken', release: good, ends: 'done', stateAtKill: 'downloading' },
  { step: 'update.downloaded', release: good, ends: 'done', stateAtKill: 'downloading' },
  { step: 'update.unpacked', release: good, ends: 'done', stateAtKill: 'verifying' },
  {
    step: 'update.switching',
    release: good,
    ends: 'rolled-back',
    reason: /interrupted .* during switching/,
    stateAtKill: 'switching',
  },
  {
    step: 'update.switched',
    release: good,
    ends: 'rolled-back',
    reason: /interrupted .* during switching/,
    stateAtKill: 'switching',
  },
  {
    step: 'update.restarted',
    release: good,
    ends: 'rolled-back',
    reason: /interrupted .* during verifying-health/,
    stateAtKill: 'verifying-health',
  },
  {
    step: 'update.rolling-back',
    release: crash,
    ends: 'rolled-back',
    reason: /the new agent is not running/,
    stateAtKill: 'switching',
  },
  { step: 'update.done', release: good, ends: 'done', stateAtKill: 'done' },
];

for (const { step, release, ends, reason, stateAtKill } of steps) {
  t.test(`kill -9 at ${step}: the next run ends ${ends}, on a release that works`, { skip: SKIP }, async (t) => {
    const id = `kill-${step.replace(/\W/g, '-')}`;
    const { board, watcher, root } = await boardOn1(t, id);
    const rel = release();
    const reply = await watcher.command(
      `${root}/cmd/update`,
      updateBody(rel, server.serve(`${id}.tar.gz`, rel.tarball)),
      'v5',
      `${root}/reply`,
    );
    t.match(reply.json, { ok: true }, 'update accepted');

    const killed = await board.runUpdater({ EDGE_AGENT_FAILPOINT: step });
    t.equal(killed.signal, 'SIGKILL', `the updater was killed at ${step}`);
    t.equal(board.state()?.state, stateAtKill, `the state file says ${stateAtKill}`);

    // The boot after the power cut: edge-agent-update.service runs the updater again.
    const again = await board.runUpdater();
    t.equal(again.code, 0, 'the next run exits 0', { stdout: again.stdout, stderr: again.stderr });
    const state = board.state()!;
    t.equal(state.state, ends, `it ends ${ends}`);
    if (reason) t.match(state.reason, reason);
    const running = ends === 'done' ? rel.version : '1.0.0';
    t.equal(readlinkSync(path.join(board.app, 'current')), `releases/${running}`, `current is ${running}`);
    const report = await releaseReport(watcher, root, (r) => r.update?.state === ends && r.running === running, 60_000);
    t.match(
      report,
      { running, update: { state: ends, version: rel.version } },
      'R/release says so, from the agent that runs',
    );
    const status = await board.service('status');
    t.match(status, /ActiveState=active/, 'and that agent is running');
    t.notOk(existsSync(path.join(board.app, `releases/.incoming-${rel.version}`)), 'no half-unpacked release is left');
    t.notOk(existsSync(path.join(board.app, `update/download/${rel.version}.tar.gz`)), 'no download is left');
    if (ends === 'done')
      t.equal(
        readFileSync(path.join(board.app, 'update/known-good'), 'utf8').trim(),
        `releases/${rel.version}`,
        'known-good is the new release',
      );
    else
      t.notOk(
        existsSync(path.join(board.app, `releases/${rel.version}`)),
        'the release that was rolled back is removed',
      );
  });
}

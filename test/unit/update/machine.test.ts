/**
 * The updater's steps (deploy/lib/update/machine.mjs) on a faked board, in virtual time: every
 * way an update ends, and what a run does with each state a killed run leaves behind.
 * (update.test.ts and update-kill.test.ts run the same steps on real files, a real agent and kill -9.)
 */
import t from 'tap';
import { runUpdater, type UpdateStateFile } from '../../../deploy/lib/update/machine.mjs';
import { BAD_SIG, FakeUpdateBoard, fakeManifest } from '../../helpers/fakeUpdateOps.js';

const settings = { gateSeconds: 120, stableSeconds: 60, rollbackSeconds: 30, pollMs: 500 };

t.test('a healthy release: each state in order, done after the gate and 60 s without a restart', async (t) => {
  const board = new FakeUpdateBoard();
  board.ask('2.0.0');
  const started = board.now;
  const end = await runUpdater(board.ops(), settings);
  t.equal(end?.state, 'done');
  t.same(board.states, ['downloading', 'verifying', 'switching', 'verifying-health', 'done']);
  t.same(board.links, { current: 'releases/2.0.0', previous: 'releases/1.0.0' });
  t.equal(board.knownGood, 'releases/2.0.0');
  t.equal(board.request, null, 'the request is consumed');
  t.equal(board.downloads.size, 0, 'the download is removed');
  t.ok(board.now - started >= 60_000 + board.startMs, 'it waited the stable minute after the verdict');
  t.ok(board.now - started < 70_000, 'and not much more');
  t.same(end?.gate, {
    cameras: ['cam1'],
    mqtt: true,
    gateSeconds: 120,
    stableSeconds: 60,
    deadline: end!.switchedAt! + 120_000,
  });
});

const refusals: Array<[string, (b: FakeUpdateBoard) => void, RegExp]> = [
  ['a signature by no trusted key', (b) => b.ask('2.0.0', { sig: BAD_SIG }), /does not match any key/],
  [
    'a release for another architecture',
    (b) => void (b.ask('2.0.0').manifest.arch = 'arm64'),
    /is for arm64, this board is x64/,
  ],
  ['the version already running', (b) => b.ask('1.0.0'), /1\.0\.0 is already running/],
  ['a url that is not http(s)', (b) => void (b.ask('2.0.0').url = 'file:///etc/shadow'), /http:\/\/ or https:\/\//],
  [
    'a version that would climb out of releases/',
    (b) => void (b.ask('2.0.0').manifest.version = '../../etc'),
    /not a version/,
  ],
  [
    'no release installed',
    (b) => {
      b.ask('2.0.0');
      b.links = { current: null, previous: null };
    },
    /no release is installed/,
  ],
];
for (const [name, make, reason] of refusals) {
  t.test(`refused at step 1: ${name}; nothing downloaded or switched`, async (t) => {
    const board = new FakeUpdateBoard();
    make(board);
    const links = { ...board.links };
    const end = await runUpdater(board.ops(), settings);
    t.equal(end?.state, 'failed');
    t.match(end?.reason, reason);
    t.same(board.links, links);
    t.equal(board.downloads.size, 0);
    t.equal(board.request, null, 'the request is removed (the path unit would fire again)');
  });
}

t.test('a failed download or a truncated one: failed, nothing switched, the agent untouched', async (t) => {
  for (const mode of ['unreachable', 'truncated'] as const) {
    const board = new FakeUpdateBoard();
    board.download = mode;
    board.ask('2.0.0');
    const end = await runUpdater(board.ops(), settings);
    t.equal(end?.state, 'failed', mode);
    t.match(end?.reason, mode === 'truncated' ? /truncated/ : /ECONNREFUSED/);
    t.same(board.links, { current: 'releases/1.0.0', previous: null });
    t.equal(board.agent?.pid, 100, 'never restarted');
  }
});

const rollbacks: Array<[string, 'crash' | 'silent' | 'flaky', RegExp, number]> = [
  ['an agent that never comes up', 'crash', /the new agent is not running \(failed\)/, 5_000],
  ['an agent that never passes its gate', 'silent', /gave no health verdict within 120 s/, 130_000],
  ['an agent that passes, then restarts within the minute', 'flaky', /restarted 1 time\(s\)/, 15_000],
];
for (const [name, behaviour, reason, within] of rollbacks) {
  t.test(`rolled back: ${name}`, async (t) => {
    const board = new FakeUpdateBoard();
    board.behaviour.set('2.0.0', behaviour);
    board.ask('2.0.0');
    const started = board.now;
    const end = await runUpdater(board.ops(), settings);
    t.equal(end?.state, 'rolled-back');
    t.match(end?.reason, reason);
    t.same(board.links, { current: 'releases/1.0.0', previous: null }, 'both links as before');
    t.equal(board.agent?.version, '1.0.0', 'the old release runs again');
    t.notOk(board.releases.has('2.0.0'), 'the failed release is removed');
    t.equal(board.knownGood, 'releases/1.0.0', 'known-good stays');
    t.ok(board.now - started <= within, `decided within ${(board.now - started) / 1000} s`);
    t.same(board.states.slice(-2), ['switching', 'rolled-back'], 'the way back is recorded before it is taken');
  });
}

t.test('the restart itself fails (systemctl restart exit 1): rolled back at once', async (t) => {
  const board = new FakeUpdateBoard();
  const ops = board.ops();
  let calls = 0;
  const restart = ops.restart;
  ops.restart = async (s) =>
    ++calls === 1 ? { ok: false, message: 'exit 1: Job for edge-agent.service failed' } : restart(s);
  board.ask('2.0.0');
  const end = await runUpdater(ops, settings);
  t.match(end, {
    state: 'rolled-back',
    reason: /the new agent did not start: exit 1: Job for edge-agent\.service failed/,
  });
  t.equal(board.agent?.version, '1.0.0');
});

/** The state a run killed at `state` leaves, for a 1.0.0 -> 2.0.0 update. */
function leftBehind(
  board: FakeUpdateBoard,
  state: UpdateStateFile['state'],
  extra: Partial<UpdateStateFile> = {},
): void {
  board.state = {
    state,
    version: '2.0.0',
    reason: null,
    attempt: 'attempt-killed',
    manifest: fakeManifest('2.0.0'),
    sig: 'a'.repeat(128),
    url: 'http://releases.example/2.0.0.tar.gz',
    gate: { cameras: ['cam1'], mqtt: true },
    ...extra,
  };
}

const resumes: Array<
  [
    string,
    UpdateStateFile['state'],
    Partial<UpdateStateFile>,
    (b: FakeUpdateBoard) => void,
    string,
    RegExp | null,
    string,
  ]
> = [
  ['downloading', 'downloading', {}, () => undefined, 'done', null, 'releases/2.0.0'],
  ['verifying', 'verifying', {}, () => undefined, 'done', null, 'releases/2.0.0'],
  [
    'switching, before the links moved',
    'switching',
    { direction: 'forward', from: 'releases/1.0.0', fromPrevious: null },
    () => undefined,
    'rolled-back',
    /interrupted .* during switching/,
    'releases/1.0.0',
  ],
  [
    'switching, after the links moved',
    'switching',
    { direction: 'forward', from: 'releases/1.0.0', fromPrevious: null },
    (b) => {
      b.links = { current: 'releases/2.0.0', previous: 'releases/1.0.0' };
      b.releases.add('2.0.0');
    },
    'rolled-back',
    /interrupted .* during switching/,
    'releases/1.0.0',
  ],
  [
    'verifying-health (a power cut reboots into the new release)',
    'verifying-health',
    {
      direction: 'forward',
      from: 'releases/1.0.0',
      fromPrevious: null,
      switchedAt: 1,
      gate: { cameras: ['cam1'], mqtt: true, deadline: 120_001, gateSeconds: 120 },
    },
    (b) => {
      b.links = { current: 'releases/2.0.0', previous: 'releases/1.0.0' };
      b.agent = { version: '2.0.0', since: b.now, pid: 300 };
    },
    'rolled-back',
    /interrupted .* during verifying-health/,
    'releases/1.0.0',
  ],
  [
    'switching back, half-way',
    'switching',
    {
      direction: 'back',
      reason: 'health gate: camera cam1 produced no frame',
      from: 'releases/1.0.0',
      fromPrevious: null,
    },
    (b) => {
      b.links = { current: 'releases/2.0.0', previous: 'releases/1.0.0' };
    },
    'rolled-back',
    /^health gate: camera cam1 produced no frame$/,
    'releases/1.0.0',
  ],
];
for (const [name, state, extra, prepare, ends, reason, current] of resumes) {
  t.test(`a run killed in ${name}: the next run ends ${ends}`, async (t) => {
    const board = new FakeUpdateBoard();
    leftBehind(board, state, extra);
    prepare(board);
    const end = await runUpdater(board.ops(), settings);
    t.equal(end?.state, ends);
    if (reason) t.match(end?.reason, reason);
    t.equal(board.links.current, current);
    t.equal(board.agent?.version, current.replace('releases/', ''), 'that release runs');
    t.match(board.log[0], `resuming an update left in state ${state}`);
  });
}

t.test('a request already recorded by the killed run is not run twice', async (t) => {
  const board = new FakeUpdateBoard();
  const request = board.ask('2.0.0');
  leftBehind(board, 'downloading', { attempt: request.attempt });
  const end = await runUpdater(board.ops(), settings);
  t.equal(end?.state, 'done');
  t.same(
    board.states,
    ['verifying', 'switching', 'verifying-health', 'done'],
    'one update: the resumed one, not a second from the same request',
  );
  t.equal(board.request, null);
});

t.test('a final state is tidied again (the run died before its housekeeping), then a new request runs', async (t) => {
  const board = new FakeUpdateBoard();
  leftBehind(board, 'done');
  board.links = { current: 'releases/2.0.0', previous: 'releases/1.0.0' };
  board.downloads.add('2.0.0');
  board.ask('3.0.0');
  const end = await runUpdater(board.ops(), settings);
  t.equal(end?.state, 'done');
  t.equal(end?.version, '3.0.0');
  t.same(board.links, { current: 'releases/3.0.0', previous: 'releases/2.0.0' });
  t.notOk(board.downloads.has('2.0.0'), 'the old download was cleaned up');
});

/**
 * Issue 17: a signed update end to end, without root or systemd. The real agent (release 1.0.0,
 * built from dist/) runs in a throwaway board tree under a stand-in for systemctl; the `update`
 * command (or retained R/release/desired) reaches it over a real Mosquitto; the checkout's root
 * updater (deploy/lib/updater.mjs --root, as edge-agent-update.service runs it) downloads from a
 * local HTTP server, verifies, switches, restarts and waits for the new release's health gate.
 * Each case ends on a working release with the right retained R/release.
 */
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { generateKeyPairSync, sign } from 'node:crypto';
import { waitFor } from '../helpers/waitFor.js';
import { TestClient } from '../helpers/mqttClient.js';
import {
  manifestText,
  releaseReport,
  updateBody,
  type ReleaseReport,
  type UpdateBoard,
} from '../helpers/updateBoard.js';
import { updateRig } from '../helpers/updateRig.js';

const {
  skip: SKIP,
  server,
  broker,
  releases,
  boardOn1,
} = updateRig(t, [
  ['2.0.0', 'real'],
  ['3.0.0-crash', 'crash'],
  ['4.0.0-silent', 'silent'],
]);

const release = releaseReport;

/** The retained R/release as a new subscriber gets it. */
async function retainedRelease(root: string): Promise<ReleaseReport> {
  const client = await TestClient.connect(broker.url);
  try {
    await client.subscribe(`${root}/release`);
    return (await client.waitFor((m) => m.retain && m.topic === `${root}/release`, 10_000)).json as ReleaseReport;
  } finally {
    await client.end();
  }
}

const link = (board: UpdateBoard, name: string) => readlinkSync(path.join(board.app, name));

t.test(
  'a good release: downloaded, verified, switched, healthy: done, running the new version',
  { skip: SKIP },
  async (t) => {
    const { board, watcher, root } = await boardOn1(t, 'upd-good');
    const before = await release(watcher, root, (r) => r.running === '1.0.0', 20_000);
    t.same(before, { running: '1.0.0', previous: null, update: null, ts: before.ts }, 'R/release before any update');
    const rel = releases['2.0.0']!;
    const reply = await watcher.command(
      `${root}/cmd/update`,
      updateBody(rel, server.serve('good.tar.gz', rel.tarball)),
      'v5',
      `${root}/reply`,
    );
    t.match(
      reply.json,
      { ok: true, result: { accepted: true, version: '2.0.0' } },
      'the agent accepts the signed release',
    );
    t.ok(existsSync(path.join(board.dataDir, 'update-request.json')), 'and leaves the request for the root updater');

    const updater = await board.runUpdater();
    t.equal(updater.code, 0, 'the updater exits 0', { stdout: updater.stdout, stderr: updater.stderr });
    t.match(updater.stdout, /update: done 2\.0\.0/);
    t.equal(link(board, 'current'), 'releases/2.0.0', 'current is the new release');
    t.equal(link(board, 'previous'), 'releases/1.0.0', 'previous the one that ran');
    t.equal(
      readFileSync(path.join(board.app, 'update/known-good'), 'utf8').trim(),
      'releases/2.0.0',
      'known-good moves on only once the gate passed',
    );
    t.notOk(existsSync(path.join(board.dataDir, 'update-request.json')), 'the request was consumed');
    t.match(board.log(), /"msg":"update health gate passed"/, 'the new agent ran its health gate');

    const done = await release(watcher, root, (r) => r.update?.state === 'done');
    t.match(
      done,
      { running: '2.0.0', previous: '1.0.0', update: { state: 'done', version: '2.0.0', reason: null } },
      'R/release: done',
    );
    t.match(
      await retainedRelease(root),
      { running: '2.0.0', previous: '1.0.0', update: { state: 'done', version: '2.0.0' } },
      'retained',
    );
    const online = watcher.on(`${root}/status`).map((m) => m.json as { state: string; version: string });
    t.ok(
      online.some((s) => s.state === 'online' && s.version === '2.0.0'),
      'R/status online with 2.0.0',
    );
    const states = watcher.on(`${root}/release`).map((m) => (m.json as ReleaseReport).update?.state ?? 'none');
    const order = ['none', 'downloading', 'verifying', 'switching', 'verifying-health', 'done'];
    t.ok(
      states.every((s, i) => i === 0 || order.indexOf(s) >= order.indexOf(states[i - 1]!)),
      `R/release states only move forward: ${states.join(' > ')}`,
    );
  },
);

t.test(
  'a bad signature: the agent refuses it, and so does the updater when the request bypasses the agent',
  { skip: SKIP },
  async (t) => {
    const { board, watcher, root } = await boardOn1(t, 'upd-badsig');
    const rel = releases['2.0.0']!;
    const url = server.serve('badsig.tar.gz', rel.tarball);
    const other = generateKeyPairSync('ed25519');
    const forged = sign(null, Buffer.from(manifestText(rel.manifest)), other.privateKey).toString('hex');
    const reply = await watcher.command(
      `${root}/cmd/update`,
      { manifest: rel.manifest, sig: forged, url },
      'v5',
      `${root}/reply`,
    );
    t.match(
      reply.json,
      { ok: false, error: { code: 'unauthorized', message: /does not match any key/ } },
      'the agent refuses a release signed by another key',
    );
    const altered = await watcher.command(
      `${root}/cmd/update`,
      { manifest: { ...rel.manifest, size: rel.manifest.size + 1 }, sig: rel.sig, url },
      'v5',
      `${root}/reply`,
    );
    t.match(altered.json, { ok: false, error: { code: 'unauthorized' } }, 'and a manifest changed after signing');
    t.notOk(existsSync(path.join(board.dataDir, 'update-request.json')), 'no request reached the updater');

    // The agent user could write a request itself: the updater checks the signature on its own, with the board's keys only.
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      path.join(board.dataDir, 'update-request.json'),
      JSON.stringify({
        attempt: 'forged-0001',
        manifest: rel.manifest,
        sig: forged,
        url,
        gate: { cameras: [], mqtt: false },
      }),
    );
    const updater = await board.runUpdater();
    t.equal(updater.code, 0, 'the updater exits 0', { stderr: updater.stderr });
    t.match(
      board.state(),
      { state: 'failed', version: '2.0.0', reason: /does not match any key/ },
      'the updater refuses it',
    );
    t.equal(link(board, 'current'), 'releases/1.0.0', 'nothing switched');
    t.notOk(existsSync(path.join(board.app, 'releases/2.0.0')), 'nothing unpacked');
    t.match(await release(watcher, root, (r) => r.update?.state === 'failed'), {
      running: '1.0.0',
      update: { state: 'failed', version: '2.0.0', reason: /does not match any key/ },
    });

    // A key folder the agent could write to is not trusted at all.
    const { chmodSync } = await import('node:fs');
    chmodSync(path.join(board.root, 'etc/edge-agent/release-keys'), 0o777);
    writeFileSync(
      path.join(board.dataDir, 'update-request.json'),
      JSON.stringify({
        attempt: 'forged-0002',
        manifest: rel.manifest,
        sig: rel.sig,
        url,
        gate: { cameras: [], mqtt: false },
      }),
    );
    await board.runUpdater();
    t.match(
      board.state(),
      { state: 'failed', reason: /writable only by root: its keys are not trusted/ },
      'a group/world-writable release-keys folder is refused',
    );
    t.equal(link(board, 'current'), 'releases/1.0.0', 'nothing switched');
  },
);

t.test(
  'a truncated download: failed at verifying, nothing switched, the agent never restarted',
  { skip: SKIP },
  async (t) => {
    const { board, watcher, root } = await boardOn1(t, 'upd-trunc');
    const rel = releases['2.0.0']!;
    const pid = await board.service('status');
    const url = server.serve('truncated.tar.gz', rel.tarball, { truncate: Math.floor(rel.manifest.size / 2) });
    const reply = await watcher.command(`${root}/cmd/update`, updateBody(rel, url), 'v5', `${root}/reply`);
    t.match(reply.json, { ok: true });
    const updater = await board.runUpdater();
    t.equal(updater.code, 0, 'the updater exits 0', { stderr: updater.stderr });
    t.match(board.state(), {
      state: 'failed',
      version: '2.0.0',
      reason: /downloaded \d+ bytes, the manifest says \d+ \(truncated\?\)/,
    });
    t.equal(link(board, 'current'), 'releases/1.0.0', 'current unchanged');
    t.notOk(existsSync(path.join(board.app, 'releases/2.0.0')), 'nothing unpacked');
    t.notOk(existsSync(path.join(board.app, 'update/download/2.0.0.tar.gz')), 'the bad download is deleted');
    t.equal(await board.service('status'), pid, 'the agent was not restarted');
    t.match(await release(watcher, root, (r) => r.update?.state === 'failed'), {
      running: '1.0.0',
      previous: null,
      update: { state: 'failed', version: '2.0.0', reason: /truncated/ },
    });
  },
);

t.test(
  'a release whose agent crashes at start: rolled back, the old one running again within 30 s',
  { skip: SKIP },
  async (t) => {
    const { board, watcher, root } = await boardOn1(t, 'upd-crash');
    const rel = releases['3.0.0-crash']!;
    const reply = await watcher.command(
      `${root}/cmd/update`,
      updateBody(rel, server.serve('crash.tar.gz', rel.tarball)),
      'v5',
      `${root}/reply`,
    );
    t.match(reply.json, { ok: true });
    const updater = await board.runUpdater();
    t.equal(updater.code, 0, 'the updater exits 0', { stderr: updater.stderr });
    t.match(board.state(), { state: 'rolled-back', version: '3.0.0-crash', reason: /the new agent is not running/ });
    t.equal(link(board, 'current'), 'releases/1.0.0', 'current is back on 1.0.0');
    t.notOk(existsSync(path.join(board.app, 'previous')), 'previous as it was (none)');
    t.notOk(existsSync(path.join(board.app, 'releases/3.0.0-crash')), 'the failed release is removed');
    const back = await release(watcher, root, (r) => r.update?.state === 'rolled-back', 60_000);
    t.match(back, {
      running: '1.0.0',
      update: { state: 'rolled-back', version: '3.0.0-crash', reason: /not running/ },
    });
    t.match(board.log(), /crashing at start/, 'the new release did run and crash');
    // Downtime of the roll-back: from its start (links back) to the old agent active again.
    const at = (what: RegExp) =>
      Date.parse(
        updater.stdout
          .split('\n')
          .find((l) => what.test(l))
          ?.split(' ')[1] ?? '',
      );
    const downtime = at(/ rolled-back /) - at(/ switching 3\.0\.0-crash: /);
    t.ok(downtime >= 0 && downtime <= 30_000, `the roll-back took ${downtime} ms (at most 30 s)`);
  },
);

t.test('a release that starts but never records: its own gate fails, rolled back', { skip: SKIP }, async (t) => {
  const { board, watcher, root } = await boardOn1(t, 'upd-silent');
  const rel = releases['4.0.0-silent']!;
  const reply = await watcher.command(
    `${root}/cmd/update`,
    updateBody(rel, server.serve('silent.tar.gz', rel.tarball)),
    'v5',
    `${root}/reply`,
  );
  t.match(reply.json, { ok: true });
  const request = JSON.parse(readFileSync(path.join(board.dataDir, 'update-request.json'), 'utf8')) as {
    gate: unknown;
  };
  t.same(
    request.gate,
    { cameras: ['cam1'], mqtt: true },
    'the gate asks the new release for what worked before: cam1 and the broker',
  );
  const updater = await board.runUpdater({ EDGE_AGENT_UPDATE_GATE_SECONDS: '20' });
  t.equal(updater.code, 0, 'the updater exits 0', { stderr: updater.stderr });
  t.match(board.state(), {
    state: 'rolled-back',
    version: '4.0.0-silent',
    reason: /health gate: by the deadline: camera cam1 produced no frame; no HLS segment was written/,
  });
  t.equal(link(board, 'current'), 'releases/1.0.0');
  t.match(board.log(), /"msg":"update health gate failed"/, 'the new agent failed its own gate');
  t.match(await release(watcher, root, (r) => r.update?.state === 'rolled-back', 60_000), {
    running: '1.0.0',
    update: { state: 'rolled-back', version: '4.0.0-silent' },
  });
  const online = watcher.on(`${root}/status`).map((m) => m.json as { state: string; version: string });
  t.ok(
    online.some((s) => s.state === 'online' && s.version === '4.0.0-silent'),
    'the silent release did get online (only its cameras failed)',
  );
});

t.test('killed mid-switch (kill -9 after the links moved): the next run rolls back', { skip: SKIP }, async (t) => {
  const { board, watcher, root } = await boardOn1(t, 'upd-kill');
  const rel = releases['2.0.0']!;
  const reply = await watcher.command(
    `${root}/cmd/update`,
    updateBody(rel, server.serve('kill.tar.gz', rel.tarball)),
    'v5',
    `${root}/reply`,
  );
  t.match(reply.json, { ok: true });
  const killed = await board.runUpdater({ EDGE_AGENT_FAILPOINT: 'update.switched' });
  t.equal(killed.signal, 'SIGKILL', 'the updater died at the failpoint');
  t.equal(link(board, 'current'), 'releases/2.0.0', 'with current already on the new release');
  t.match(board.state(), { state: 'switching', direction: 'forward' });
  // What a boot does: edge-agent-update.service runs the updater again.
  const again = await board.runUpdater();
  t.equal(again.code, 0, { stderr: again.stderr });
  t.match(again.stdout, /resuming an update left in state switching/);
  t.match(board.state(), { state: 'rolled-back', reason: /interrupted \(power loss or kill\) during switching/ });
  t.equal(link(board, 'current'), 'releases/1.0.0', 'back on 1.0.0');
  t.match(await release(watcher, root, (r) => r.update?.state === 'rolled-back', 60_000), {
    running: '1.0.0',
    update: { state: 'rolled-back', version: '2.0.0' },
  });
});

t.test('R/release/desired: the retained form; handled once, also across a restart', { skip: SKIP }, async (t) => {
  const { board, watcher, root } = await boardOn1(t, 'upd-desired');
  const rel = releases['2.0.0']!;
  await watcher.client.publishAsync(
    `${root}/release/desired`,
    JSON.stringify(updateBody(rel, server.serve('desired.tar.gz', rel.tarball))),
    { qos: 1, retain: true },
  );
  await waitFor('the request file', () => existsSync(path.join(board.dataDir, 'update-request.json')), 20_000);
  const updater = await board.runUpdater();
  t.match(updater.stdout, /update: done 2\.0\.0/, { stderr: updater.stderr });
  t.match(await release(watcher, root, (r) => r.update?.state === 'done'), { running: '2.0.0', previous: '1.0.0' });
  // The new agent got the same retained document at its connect: already running, no new request.
  await board.service('restart');
  // Once for the connect right after the update, once after this restart.
  await board.waitLog('desired release already handled', 2, 30_000);
  t.notOk(existsSync(path.join(board.dataDir, 'update-request.json')), 'no second request');
  await watcher.client.publishAsync(`${root}/release/desired`, '', { qos: 1, retain: true });
});

/** The new release's own health gate (agent/update/gate.ts): what it waits for, and its verdict. */
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { CameraStats } from '../../../agent/contract/services.js';
import { UpdateGate } from '../../../agent/update/gate.js';
import type { RootUpdateState } from '../../../agent/update/state.js';
import { silentLogger } from '../../../agent/util/logger.js';
import { waitFor } from '../../helpers/waitFor.js';

type Verdict = { attempt: string; state: string; reason: string | null; version: string };

function stats(camera: string, age: number | null): CameraStats {
  return {
    camera,
    state: 'running',
    encoder: 'libx264',
    source: 'test',
    fps: 15,
    droppedFrames: 0,
    restarts: 0,
    lastFrameAgeSeconds: age,
    recordingSince: null,
    lastError: null,
  };
}

function setup(t: Test, state: Partial<RootUpdateState> | null, live: { cams: CameraStats[]; birth: string | null }) {
  const dir = t.testdir({ hls: { cam1: {} } });
  const verdicts: Verdict[] = [];
  const startedAt = Date.now();
  const gate = new UpdateGate({
    version: '2.0.0',
    readState: async () =>
      state
        ? ({
            state: 'verifying-health',
            version: '2.0.0',
            reason: null,
            attempt: 'att-1',
            gate: { cameras: ['cam1'], mqtt: true, deadline: Date.now() + 400 },
            ...state,
          } as RootUpdateState)
        : null,
    stats: () => live.cams,
    hlsDir: (c) => path.join(dir, 'hls', c),
    roundTrip: async () => live.birth,
    writeVerdict: async (v) => void verdicts.push(v),
    startedAt,
    log: silentLogger(),
    pollMs: 20,
  });
  t.teardown(() => gate.stop());
  const playlist = (when: number) => {
    const file = path.join(dir, 'hls/cam1/index.m3u8');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, '#EXTM3U\n#EXTINF:1.0,\nseg-17.ts\n');
    utimesSync(file, when / 1000, when / 1000);
  };
  return { gate, verdicts, playlist, startedAt };
}

t.test(
  'passes once every camera healthy before has a fresh frame, a playlist was written since the start and the birth reached the broker',
  async (t) => {
    const live = { cams: [stats('cam1', null)], birth: 'mqtt not connected' as string | null };
    const { gate, verdicts, playlist } = setup(
      t,
      { gate: { cameras: ['cam1'], mqtt: true, deadline: Date.now() + 5000 } },
      live,
    );
    await gate.start();
    await new Promise((r) => setTimeout(r, 60));
    t.same(verdicts, [], 'no verdict while nothing holds');
    live.cams = [stats('cam1', 0.2)];
    playlist(Date.now());
    await new Promise((r) => setTimeout(r, 60));
    t.same(verdicts, [], 'still none without the birth');
    live.birth = null;
    await waitFor('a verdict', () => verdicts.length > 0, 3000, 10);
    t.match(verdicts, [{ attempt: 'att-1', version: '2.0.0', state: 'passed', reason: null }]);
  },
);

t.test("fails at the deadline naming what is missing; the old release's playlist does not count", async (t) => {
  const live = { cams: [stats('cam1', 12)], birth: null };
  const { gate, verdicts, playlist, startedAt } = setup(t, {}, live);
  playlist(startedAt - 60_000);
  await gate.start();
  await waitFor('a verdict', () => verdicts.length > 0, 3000, 10);
  t.match(verdicts[0], {
    state: 'failed',
    reason: 'by the deadline: camera cam1 produced no frame; no HLS segment was written',
  });
});

t.test('nothing to check unless this start is the one the updater waits for', async (t) => {
  for (const state of [null, { state: 'done' as const }, { version: '3.0.0' }]) {
    const { gate, verdicts } = setup(t, state, { cams: [], birth: null });
    await gate.start();
    await new Promise((r) => setTimeout(r, 50));
    t.same(verdicts, [], JSON.stringify(state));
  }
});

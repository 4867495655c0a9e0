/**
 * A clock step while a run is being prepared, after its timeline is planned and before FFmpeg
 * runs (found by the reliability suite's clock scenario on a loaded machine): the run must be
 * restarted on the new timeline, not left labelling its video on the old one. The step is played
 * inside the agent's own process (Date.now moved an hour on) at the moment the supervisor asks
 * whether the clock is synchronised, which it does between planning the run and spawning FFmpeg.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { CameraSupervisor } from '../../agent/pipeline/supervisor.js';
import { supervisorSetup } from '../helpers/supervisorSetup.js';
import { EventBus } from '../../agent/util/bus.js';
import { silentLogger } from '../../agent/util/logger.js';
import { testPatternInput } from '../../device/sources/test.js';
import { waitFor } from '../helpers/waitFor.js';

const HOUR = 3_600_000;
const SEGMENT = 4;

t.test('a clock step between planning a run and starting FFmpeg restarts the run on the new timeline', async (t) => {
  const dir = t.testdir();
  const { camera, config } = supervisorSetup(dir, SEGMENT);
  const realNow = Date.now;
  t.teardown(() => {
    Date.now = realNow;
  });
  const bus = new EventBus();
  const restarts: string[] = [];
  bus.on('pipeline.restarted', (e) => void restarts.push(e.reason));
  let asked = 0;
  const supervisor = new CameraSupervisor({
    camera,
    config: () => config,
    bus,
    log: silentLogger(),
    encoders: [{ name: 'libx264', where: 'ffmpeg' }],
    resolveCapture: async (cam) => testPatternInput(cam),
    clockSynced: async () => {
      asked += 1;
      if (asked === 1) Date.now = () => realNow() + HOUR;
      return true;
    },
  });
  await supervisor.start();
  t.teardown(() => supervisor.stop());
  await waitFor('a restart', () => restarts.length >= 1, 15_000, 50);
  t.equal(restarts[0], 'wall clock jumped', 'the first run is restarted because the clock stepped under it');
  // The next run's timeline, from its run.json while it records.
  const partials = path.join(dir, 'archive', 'cam1', '.partial');
  const planned = async () => {
    const bases: number[] = [];
    for (const run of await readdir(partials).catch(() => [] as string[])) {
      const text = await readFile(path.join(partials, run, 'run.json'), 'utf8').catch(() => null);
      if (text) bases.push((JSON.parse(text) as { baseMs: number }).baseMs);
    }
    return bases.find((ms) => ms > realNow() + HOUR / 2) ?? null;
  };
  const base = await waitFor('a run planned on the stepped clock', planned, 15_000, 50);
  t.ok(
    Math.abs(base - (realNow() + HOUR)) < 2 * SEGMENT * 1000,
    `the next run is planned an hour ahead (${new Date(base).toISOString()})`,
  );
  await supervisor.stop();
});

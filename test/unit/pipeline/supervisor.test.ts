/**
 * The restart loop's decisions, one row each: a table of how runs end (played by fake runs on a
 * fake clock, test/helpers/supervisorHarness.ts), the events the loop sends and the figures it
 * reports. Backoff jitter is pinned (Math.random() = 0), so delays are the capped doubling itself.
 */
import t, { type Test } from 'tap';
import { AgentError } from '../../../agent/contract/errors.js';
import type { CameraStats } from '../../../agent/contract/services.js';
import type { SupervisorTiming } from '../../../agent/pipeline/timing.js';
import { exit, STOPPED_LINE, transcript, World, type Script } from '../../helpers/supervisorHarness.js';

interface Row {
  name: string;
  encoders?: string[];
  timing?: Partial<SupervisorTiming>;
  source?: string;
  /** How the runs end, in order; after the last the next run stays up (unless a script leaves its run open). */
  runs: Script[];
  /**
   * Acts once the runs have played: during the wait after the last run if it ended, else while it
   * runs. Afterwards time moves on through any wait until a run stays up.
   */
  then?: (w: World, t: Test) => Promise<void>;
  /** The events sent, as transcript() writes them. */
  events: string[];
  stats?: Partial<CameraStats>;
  /** How many times each run was asked to stop. */
  stopsAsked?: number[];
}

const ENCODER_GONE = 'Could not find a valid device';
const CONVERSION = 'Conversion failed!';
const NO_DEVICE = 'No such device';
const STALLED = 'stalled: no frame for 10 s';
const other = (lastsMs = 500): Script => ({ lastsMs, end: exit('pipeline_exit', CONVERSION) });

const rows: Row[] = [
  {
    name: 'an encoder that cannot run: the next encoder at once (encoder.fallback), and the camera is not lost',
    runs: [{ lastsMs: 300, end: exit('encoder_failed', ENCODER_GONE) }],
    events: [
      'started h264_v4l2m2m',
      `fallback h264_v4l2m2m -> libx264: ${ENCODER_GONE}`,
      `restart #1 after 0 s: encoder h264_v4l2m2m failed: ${ENCODER_GONE}`,
      'started libx264',
    ],
    stats: { encoder: 'libx264', restarts: 1, lastError: ENCODER_GONE, state: 'starting' },
  },
  {
    name: 'the last encoder failing: no step left, so it backs off and tries the same encoder again',
    encoders: ['libx264'],
    runs: [{ end: exit('encoder_failed', 'Unknown encoder') }],
    events: ['started libx264', 'restart #1 after 1 s: Unknown encoder', 'started libx264'],
    stats: { encoder: 'libx264', lastError: 'Unknown encoder' },
  },
  {
    name: "a stall: the camera is lost (camera.lost names the run's source) and the loop backs off",
    runs: [{ firstFrameAfterMs: 1000, lastsMs: 12_000, end: exit('pipeline_stalled', STALLED) }],
    events: [
      'started h264_v4l2m2m',
      `lost test pattern: ${STALLED}`,
      `restart #1 after 1 s: ${STALLED}`,
      'started h264_v4l2m2m',
    ],
    stats: { lastError: STALLED, encoder: 'h264_v4l2m2m' },
  },
  {
    name: 'a camera error: lost once however often it fails, found again (camera.found) at the next first frame',
    runs: [
      { end: exit('source_unavailable', NO_DEVICE) },
      { end: exit('source_unavailable', NO_DEVICE) },
      { firstFrameAfterMs: 800 },
    ],
    events: [
      'started h264_v4l2m2m',
      `lost test pattern: ${NO_DEVICE}`,
      `restart #1 after 1 s: ${NO_DEVICE}`,
      'started h264_v4l2m2m',
      `restart #2 after 2 s: ${NO_DEVICE}`,
      'started h264_v4l2m2m',
      'found test pattern',
    ],
    stats: { state: 'running', fps: 15, lastError: NO_DEVICE, recordingSince: '2025-06-01T12:00:03.800Z' },
  },
  {
    name: 'any other exit: the camera is not lost, and the delay doubles up to backoffMaxMs',
    timing: { backoffMaxMs: 4000 },
    runs: [other(), other(), other(), other()],
    events: [
      'started h264_v4l2m2m',
      `restart #1 after 1 s: ${CONVERSION}`,
      'started h264_v4l2m2m',
      `restart #2 after 2 s: ${CONVERSION}`,
      'started h264_v4l2m2m',
      `restart #3 after 4 s: ${CONVERSION}`,
      'started h264_v4l2m2m',
      `restart #4 after 4 s: ${CONVERSION}`,
      'started h264_v4l2m2m',
    ],
    stats: { restarts: 4, lastError: CONVERSION, state: 'starting' },
  },
  {
    name: 'a run that recorded more than healthyAfterSeconds from its first frame: the backoff starts over',
    runs: [other(), other(), { firstFrameAfterMs: 1000, lastsMs: 11_001, end: exit('pipeline_exit', CONVERSION) }],
    events: [
      'started h264_v4l2m2m',
      `restart #1 after 1 s: ${CONVERSION}`,
      'started h264_v4l2m2m',
      `restart #2 after 2 s: ${CONVERSION}`,
      'started h264_v4l2m2m',
      `restart #3 after 1 s: ${CONVERSION}`,
      'started h264_v4l2m2m',
    ],
  },
  {
    name: 'exactly healthyAfterSeconds from the first frame is not enough: the backoff keeps growing',
    runs: [other(), other(), { firstFrameAfterMs: 1000, lastsMs: 11_000, end: exit('pipeline_exit', CONVERSION) }],
    events: [
      'started h264_v4l2m2m',
      `restart #1 after 1 s: ${CONVERSION}`,
      'started h264_v4l2m2m',
      `restart #2 after 2 s: ${CONVERSION}`,
      'started h264_v4l2m2m',
      `restart #3 after 4 s: ${CONVERSION}`,
      'started h264_v4l2m2m',
    ],
  },
  {
    name: 'a long run that never had a frame is not healthy: the backoff keeps growing',
    runs: [other(), other(60_000)],
    events: [
      'started h264_v4l2m2m',
      `restart #1 after 1 s: ${CONVERSION}`,
      'started h264_v4l2m2m',
      `restart #2 after 2 s: ${CONVERSION}`,
      'started h264_v4l2m2m',
    ],
  },
  {
    name: 'the wall clock jumped under a run: restart at once on the new timeline; not an error',
    runs: [{ lastsMs: 5000, end: { ...exit('pipeline_exit', STOPPED_LINE), clockJumped: true } }],
    events: ['started h264_v4l2m2m', 'restart #1 after 0 s: wall clock jumped', 'started h264_v4l2m2m'],
    stats: { lastError: null, restarts: 1 },
  },
  {
    name: 'a source that cannot be resolved: camera.lost names the configured source, secrets hidden, and the loop backs off',
    source: 'rtsp://admin:hunter2@10.0.0.5/stream',
    runs: [
      {
        failToStart: new AgentError('source_unavailable', 'no camera answers at rtsp://admin:hunter2@10.0.0.5/stream'),
      },
    ],
    events: [
      'lost rtsp://admin:[redacted]@10.0.0.5/stream: no camera answers at rtsp://admin:[redacted]@10.0.0.5/stream',
      'restart #1 after 1 s: no camera answers at rtsp://admin:[redacted]@10.0.0.5/stream',
      'started h264_v4l2m2m',
    ],
    stats: {
      lastError: 'no camera answers at rtsp://admin:[redacted]@10.0.0.5/stream',
      source: 'rtsp://admin:[redacted]@10.0.0.5/stream',
    },
  },
  {
    name: 'a run that cannot start for another reason: the loop backs off, the camera is not lost',
    runs: [{ failToStart: new Error('EACCES: permission denied, mkdir') }],
    events: ['restart #1 after 1 s: EACCES: permission denied, mkdir', 'started h264_v4l2m2m'],
    stats: { lastError: 'EACCES: permission denied, mkdir', restarts: 1 },
  },
  {
    name: 'a restart asked for during a run: that run is stopped and the next starts at once; its exit is no error',
    runs: [{}],
    then: (w) => w.supervisor.restart('restart requested'),
    events: ['started h264_v4l2m2m', 'restart #1 after 0 s: restart requested', 'started h264_v4l2m2m'],
    stats: { lastError: null, restarts: 1 },
    stopsAsked: [1, 0],
  },
  {
    name: 'a restart asked for during the backoff: the next run starts at once, and its own failure backs off further',
    runs: [other()],
    then: async (w, t) => {
      const asked = w.clock.now();
      await w.supervisor.restart('restart requested');
      (await w.runStarted(2)).end(exit('pipeline_exit', CONVERSION));
      t.equal(w.clock.now(), asked, 'no time passed: the wait was cut short');
    },
    events: [
      'started h264_v4l2m2m',
      `restart #1 after 1 s: ${CONVERSION}`,
      'started h264_v4l2m2m',
      `restart #2 after 2 s: ${CONVERSION}`,
      'started h264_v4l2m2m',
    ],
  },
  {
    name: 'a stop during the backoff: no further run, and the camera counts as stopped, not supervised',
    runs: [other()],
    then: async (w, t) => {
      t.equal(w.supervisor.stats().state, 'restarting', 'waiting out the backoff');
      await w.stop();
    },
    events: ['started h264_v4l2m2m', `restart #1 after 1 s: ${CONVERSION}`],
    stats: { state: 'stopped', supervised: false, restarts: 1 },
    stopsAsked: [0],
  },
  {
    name: 'a stop during a run: the run is stopped, nothing restarts, and its last line is kept as lastError',
    runs: [{ firstFrameAfterMs: 500 }],
    then: (w) => w.stop(),
    events: ['started h264_v4l2m2m'],
    stats: { state: 'stopped', restarts: 0, recordingSince: null, fps: 0, lastError: STOPPED_LINE },
    stopsAsked: [1],
  },
  {
    name: "frames count over all runs; fps only while running; drops are the last run's and a total",
    runs: [
      { firstFrameAfterMs: 100, frames: 150, lastsMs: 12_000, end: exit('pipeline_exit', CONVERSION) },
      { firstFrameAfterMs: 200 },
    ],
    events: ['started h264_v4l2m2m', `restart #1 after 1 s: ${CONVERSION}`, 'started h264_v4l2m2m'],
    stats: {
      state: 'running',
      fps: 15,
      framesTotal: 165,
      droppedFrames: 1,
      droppedFramesTotal: 2,
      lastFrameAgeSeconds: 0,
      restarts: 1,
    },
  },
  {
    name: 'liveness: supervised while a start is young or frames come, not once the liveness bound passes without either',
    runs: [{}],
    then: async (w, t) => {
      const bound = 20 + 10 + 8 + 30 + 15;
      w.clock.advance((bound - 1) * 1000);
      t.equal(w.supervisor.stats().supervised, true, 'a start without a frame is supervised within the bound');
      w.runs[0]!.progress(15);
      w.clock.advance((bound - 1) * 1000);
      t.equal(w.supervisor.stats().supervised, true, 'a frame counts as progress');
      w.clock.advance(2000);
    },
    events: ['started h264_v4l2m2m'],
    stats: { supervised: false, state: 'running', lastFrameAgeSeconds: 84 },
  },
];

for (const row of rows) {
  t.test(row.name, async (t) => {
    t.intercept(Math, 'random', { value: () => 0 });
    const w = new World(t.testdir(), row.runs, {
      ...(row.encoders ? { encoders: row.encoders } : {}),
      ...(row.timing ? { timing: row.timing } : {}),
      ...(row.source ? { camera: { source: row.source } } : {}),
    });
    t.teardown(() => w.stop());
    await w.supervisor.start();
    for (let i = 0; i < row.runs.length; i++) {
      const run = await w.runStarted(i + 1);
      if (run.staysUp) break;
      const waitMs = await w.sleeping();
      if (i === row.runs.length - 1 && row.then) break;
      w.clock.advance(waitMs);
    }
    await row.then?.(w, t);
    await w.playToOpenRun();
    t.same(transcript(w.events), row.events, 'events');
    if (row.stats) t.match(w.supervisor.stats(), row.stats, 'figures');
    if (row.stopsAsked)
      t.same(
        w.runs.map((r) => r.stopsAsked),
        row.stopsAsked,
        'stops asked of each run',
      );
  });
}

/** Whether `promise` has settled by the time pending callbacks have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

t.test('underWay (start-up step 3): settles when the first run spawns FFmpeg', async (t) => {
  const w = new World(t.testdir(), [{}]);
  t.teardown(() => w.stop());
  await w.supervisor.start();
  await w.runStarted(1);
  t.ok(await settled(w.supervisor.underWay()), 'settled once FFmpeg was spawned');
});

t.test('underWay: settles when the first run fails before spawning', async (t) => {
  const w = new World(t.testdir(), [{ failToStart: new AgentError('source_unavailable', 'no such camera') }]);
  t.teardown(() => w.stop());
  await w.supervisor.start();
  const underWay = w.supervisor.underWay();
  await w.runStarted(1);
  await w.sleeping();
  t.ok(await settled(underWay), 'settled by the failed attempt, during the backoff');
});

t.test('underWay: settles when the camera is stopped before any run', async (t) => {
  const w = new World(t.testdir(), [{ failToStart: new AgentError('source_unavailable', 'no such camera') }]);
  // Started, but not yet attempted: the stop must not leave start-up waiting.
  const start = w.supervisor.start();
  const underWay = w.supervisor.underWay();
  await w.stop();
  await start;
  t.ok(await settled(underWay), 'settled by the stop');
});

/**
 * agent/http/metrics.ts without a pipeline: counters carried over the resets of their sources, a
 * removed camera's series dropped, a missing sensor left out (not 0), bus events counted. Also
 * shows the strict text-format reader the integration test relies on refuses what it should.
 */
import t from 'tap';
import { AgentMetrics, RunningTotal } from '../../../agent/http/metrics.js';
import { EventBus } from '../../../agent/util/bus.js';
import { parsePrometheusText, sampleValue } from '../../helpers/promText.js';

const camera = (id: string, over: Record<string, unknown> = {}) => ({
  camera: id,
  state: 'running',
  encoder: 'libx264',
  source: 'test',
  fps: 15,
  droppedFrames: 0,
  restarts: 0,
  lastFrameAgeSeconds: 0.1,
  recordingSince: null,
  lastError: null,
  framesTotal: 100,
  droppedFramesTotal: 0,
  ...over,
});

t.test('running totals only grow: a drop is a reset and all of the new value is new', async (t) => {
  const cases: Array<[string, number[], number]> = [
    ['steady growth', [5, 7, 10], 10],
    ['reset to a smaller value', [5, 7, 2], 9],
    ['reset to zero then growth', [5, 0, 3], 8],
    ['no change', [4, 4, 4], 4],
  ];
  for (const [name, values, total] of cases) {
    const totals = new RunningTotal();
    t.equal(
      values.reduce((sum, v) => sum + totals.delta('k', v), 0),
      total,
      name,
    );
  }
});

t.test('the metrics module against a fake health snapshot', async (t) => {
  const bus = new EventBus();
  let snapshot: Record<string, unknown> = {
    cameras: [camera('cam1'), camera('cam2', { state: 'restarting', lastFrameAgeSeconds: 9, restarts: 2 })],
    disk: { freeBytes: 1000, totalBytes: 4000 },
    recordingHoursLeft: 2.5,
    temperatures: [],
    maxTemperatureCelsius: null,
    underVoltage: null,
    throttling: { underVoltageNow: true, throttledNow: false, underVoltageEver: true },
    outbox: { depth: 3, dropped: 1 },
    mqtt: { connected: true, connects: 3 },
    analysis: null,
  };
  const metrics = new AgentMetrics({ bus, health: async () => snapshot });
  metrics.start();
  t.teardown(() => metrics.stop());
  const read = async () => parsePrometheusText((await metrics.scrape()).body);

  let f = await read();
  t.equal(sampleValue(f, 'edge_agent_camera_up', { camera: 'cam1' }), 1);
  t.equal(
    sampleValue(f, 'edge_agent_camera_up', { camera: 'cam2' }),
    0,
    'a restarting camera with an old frame is down',
  );
  t.equal(sampleValue(f, 'edge_agent_camera_restarts_total', { camera: 'cam2' }), 2);
  t.equal(sampleValue(f, 'edge_agent_recording_remaining_seconds'), 9000, 'hours left in seconds');
  t.equal(sampleValue(f, 'edge_agent_soc_temperature_celsius'), undefined, 'no temperature sensor: no sample, not 0');
  t.equal(sampleValue(f, 'edge_agent_board_under_voltage'), undefined, 'no under-voltage sensor: no sample');
  t.equal(sampleValue(f, 'edge_agent_board_throttling', { flag: 'under_voltage_now' }), 1, 'throttling flags by name');
  t.equal(sampleValue(f, 'edge_agent_mqtt_reconnects_total'), 2, 'connects beyond the first');
  t.equal(sampleValue(f, 'edge_agent_analysis_queue_length'), undefined, 'analysis off: no queue length');

  // cam1's supervisor was rebuilt (frames from 0 again), cam2 removed, the link restarted.
  snapshot = { ...snapshot, cameras: [camera('cam1', { framesTotal: 30 })], mqtt: { connected: true, connects: 1 } };
  bus.emit('archive.finished', {
    camera: 'cam1',
    file: 'cam1/x.mp4',
    start: new Date().toISOString(),
    seconds: 4,
    bytes: 500,
    clockSynced: true,
    finishSeconds: 0.2,
  });
  bus.emit('archive.recovered', {
    camera: 'cam1',
    file: 'cam1/y.mp4',
    start: new Date().toISOString(),
    seconds: 3,
    bytes: 300,
    clockSynced: true,
    reason: 'x',
    lostSeconds: 0.5,
  });
  f = await read();
  t.equal(sampleValue(f, 'edge_agent_camera_frames_total', { camera: 'cam1' }), 130, 'frames carried over the reset');
  t.equal(sampleValue(f, 'edge_agent_camera_up', { camera: 'cam2' }), undefined, 'a removed camera is gone');
  t.equal(sampleValue(f, 'edge_agent_camera_restarts_total', { camera: 'cam2' }), undefined, 'with its counters');
  t.equal(sampleValue(f, 'edge_agent_mqtt_connects_total'), 4, 'connects carried over a link restart');
  t.equal(sampleValue(f, 'edge_agent_archive_written_bytes_total', { camera: 'cam1' }), 800);
  t.equal(sampleValue(f, 'edge_agent_archives_recovered_total', { camera: 'cam1' }), 1);
  t.equal(sampleValue(f, 'edge_agent_archive_recovery_lost_seconds_total', { camera: 'cam1' }), 0.5);
  t.equal(
    sampleValue(f, 'edge_agent_archive_finish_duration_seconds_count', { camera: 'cam1' }),
    1,
    'the recovered one had no finish time here',
  );
});

t.test('the text-format reader refuses broken expositions', async (t) => {
  const bad: Array<[string, string]> = [
    ['no final line feed', 'a 1'],
    ['a bad metric name', '1a 1\n'],
    ['an unquoted label value', 'a{b=c} 1\n'],
    ['a bad escape', 'a{b="\\x"} 1\n'],
    ['a bad value', 'a one\n'],
    ['a duplicate series', 'a{b="1"} 1\na{b="1"} 2\n'],
    ['TYPE after samples', 'a 1\n# TYPE a gauge\n'],
    ['interleaved families', '# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x="1"} 2\n'],
    ['a negative counter', '# TYPE a_total counter\na_total -1\n'],
    ['a histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'],
    [
      'a histogram whose buckets fall',
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    ],
    ['a reserved label name', 'a{__x="1"} 1\n'],
  ];
  for (const [name, text] of bad) t.throws(() => parsePrometheusText(text), name);
  const good =
    '# HELP a A "quoted" help \\\\ line\n# TYPE a gauge\na{b="x\\ny",c="\\"q\\""} +Inf 1700000000000\n# TYPE h histogram\nh_bucket{le="0.5"} 1\nh_bucket{le="+Inf"} 2\nh_sum 0.7\nh_count 2\n';
  const f = parsePrometheusText(good);
  t.same(f.get('a')?.samples[0]?.labels, { b: 'x\ny', c: '"q"' }, 'escapes read back');
  t.equal(sampleValue(f, 'h_count'), 2);
});

t.test('the sample Grafana dashboard queries only metrics the agent exports', async (t) => {
  const { readFileSync } = await import('node:fs');
  const { ROOT } = await import('../../helpers/agentProcess.js');
  const dashboard = JSON.parse(readFileSync(`${ROOT}/deploy/grafana-dashboard.json`, 'utf8')) as {
    panels: Array<{ targets?: Array<{ expr: string }> }>;
  };
  const metrics = new AgentMetrics({ bus: new EventBus(), health: async () => ({ cameras: [camera('cam1')] }) });
  metrics.start();
  t.teardown(() => metrics.stop());
  const exported = new Set(parsePrometheusText((await metrics.scrape()).body).keys());
  const used = new Set(
    dashboard.panels
      .flatMap((p) => p.targets ?? [])
      .flatMap((target) => target.expr.match(/\b(?:edge_agent|process|nodejs)_[a-z_]+/g) ?? []),
  );
  t.ok(used.size > 20, `${used.size} metrics used`);
  t.same(
    [...used].filter((name) => !exported.has(name.replace(/_bucket$/, ''))),
    [],
    'every metric in the dashboard exists',
  );
});

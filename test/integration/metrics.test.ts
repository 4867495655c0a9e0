/**
 * GET /metrics on the real agent (`edge-agent run`, synthetic camera, short archives): the
 * exposition passes Prometheus's own `promtool check metrics` (parser and lint; installed by
 * test/setup-machine.sh) and a strict text-format reader (test/helpers/promText.ts) the test reads
 * values with, names follow the conventions, the token rules apply, counters move as archives finish, and a kill -9 shows
 * up as a recovered archive with its measured loss after the next start.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { AgentProcess, testConfig } from '../helpers/agentProcess.js';
import { waitFor } from '../helpers/waitFor.js';
import { parsePrometheusText, sampleValue, type Family } from '../helpers/promText.js';

const TOKEN = 'metrics-test-token';

async function scrape(
  port: number,
  token: string | null = TOKEN,
): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

async function families(port: number): Promise<Map<string, Family>> {
  const { status, text } = await scrape(port);
  if (status !== 200) throw new Error(`/metrics answered ${status}: ${text.slice(0, 200)}`);
  return parsePrometheusText(text);
}

const value = (f: Map<string, Family>, name: string, labels: Record<string, string> = {}) =>
  sampleValue(f, name, labels) ?? NaN;

t.test('/metrics on the real agent', async (t) => {
  const dir = t.testdir();
  writeFileSync(path.join(dir, 'token'), TOKEN);
  // Off loopback, so the token rules of every other route apply.
  const config = testConfig(dir, { http: { listen: '0.0.0.0:0', tokenFile: path.join(dir, 'token') } });
  let agent = AgentProcess.start(dir, config);
  t.teardown(() => agent.stop());
  const port = async (a: AgentProcess) => Number((await a.waitLog('http listening'))[0]!.port);
  let p = await port(agent);

  const denied = await scrape(p, null);
  t.equal(denied.status, 401, 'no token: 401, as on /api/status');
  t.equal((await scrape(p, 'wrong')).status, 401, 'a wrong token: 401');

  await agent.waitEvent('archive.finished', 1, 60_000);
  const first = await scrape(p);
  t.equal(first.status, 200);
  t.match(first.type, /^text\/plain; version=0\.0\.4/, 'the text format content type');
  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: first.text, encoding: 'utf8' });
  t.equal(promtool.error, undefined, 'promtool runs (test/setup-machine.sh installs it)');
  // Exit 1 is a parse error, 3 lint findings only. prom-client's own default Node gauges are
  // named nodejs_active_*_total, which the lint flags; nothing else may be.
  t.ok(promtool.status === 0 || promtool.status === 3, `promtool check metrics parses it (exit ${promtool.status})`);
  const findings = `${promtool.stdout}${promtool.stderr}`.split('\n').filter((line) => line.trim() !== '');
  const unexpected = findings.filter(
    (line) =>
      !/^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/.test(
        line,
      ),
  );
  t.same(unexpected, [], "promtool finds nothing in our metrics (only prom-client's nodejs_active_*_total names)");
  const before = parsePrometheusText(first.text);
  t.pass('the exposition parses under the strict text-format reader');

  const ours = [...before.values()].filter((f) => f.name.startsWith('edge_agent_'));
  for (const f of ours) {
    if (f.type === 'counter') t.match(f.name, /_total$/, `${f.name}: a counter ends in _total`);
    t.notMatch(f.name, /_(hours|minutes|milliseconds|kilobytes|megabytes|percent)(_|$)/, `${f.name}: base units`);
    t.ok(f.help && f.help.length > 0, `${f.name} has HELP`);
  }
  for (const name of [
    'edge_agent_camera_frames_total',
    'edge_agent_camera_fps',
    'edge_agent_camera_dropped_frames_total',
    'edge_agent_camera_restarts_total',
    'edge_agent_camera_info',
    'edge_agent_camera_last_frame_age_seconds',
    'edge_agent_camera_up',
    'edge_agent_archives_finished_total',
    'edge_agent_archive_written_bytes_total',
    'edge_agent_archive_finish_duration_seconds',
    'edge_agent_archives_recovered_total',
    'edge_agent_archive_recovery_lost_seconds_total',
    'edge_agent_outbox_depth',
    'edge_agent_outbox_dropped_total',
    'edge_agent_mqtt_connected',
    'edge_agent_mqtt_reconnects_total',
    'edge_agent_analysis_queue_length',
    'edge_agent_analysis_tokens_total',
    'edge_agent_analysis_requests_total',
    'edge_agent_analysis_failures_total',
    'edge_agent_disk_free_bytes',
    'edge_agent_recording_remaining_seconds',
    'edge_agent_soc_temperature_celsius',
    'edge_agent_board_under_voltage',
    'edge_agent_board_throttling',
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'nodejs_heap_size_used_bytes',
  ]) {
    t.ok(before.has(name), `${name} is exported`);
  }
  t.equal(value(before, 'edge_agent_camera_up', { camera: 'cam1' }), 1, 'camera_up is 1 while frames flow');
  t.equal(
    value(before, 'edge_agent_camera_info', { camera: 'cam1', encoder: 'libx264', source: 'test' }),
    1,
    'the encoder as a label',
  );
  t.equal(value(before, 'edge_agent_mqtt_connected'), 0, 'no broker: not connected');
  t.ok(value(before, 'edge_agent_disk_free_bytes') > 0, 'disk free in bytes');
  const finished0 = value(before, 'edge_agent_archives_finished_total', { camera: 'cam1' });
  const bytes0 = value(before, 'edge_agent_archive_written_bytes_total', { camera: 'cam1' });
  const frames0 = value(before, 'edge_agent_camera_frames_total', { camera: 'cam1' });
  const seconds0 = value(before, 'edge_agent_archive_recorded_seconds_total', { camera: 'cam1' });
  t.ok(
    finished0 >= 1 && bytes0 > 0 && frames0 > 0,
    `after the first archive: ${finished0} finished, ${bytes0} bytes, ${frames0} frames`,
  );
  t.equal(
    value(before, 'edge_agent_archive_finish_duration_seconds_count', { camera: 'cam1' }),
    finished0,
    'one finish duration per finished archive',
  );

  // Two more 4-s archives.
  await agent.waitEvent('archive.finished', finished0 + 2, 60_000);
  const after = await waitFor('counters to move', async () => {
    const f = await families(p);
    return value(f, 'edge_agent_archives_finished_total', { camera: 'cam1' }) >= finished0 + 2 ? f : null;
  });
  t.ok(value(after, 'edge_agent_archive_written_bytes_total', { camera: 'cam1' }) > bytes0, 'bytes written grew');
  t.ok(value(after, 'edge_agent_camera_frames_total', { camera: 'cam1' }) > frames0, 'frames grew');
  t.ok(
    value(after, 'edge_agent_archive_finish_duration_seconds_count', { camera: 'cam1' }) >= finished0 + 2,
    'finish durations observed',
  );
  // The first archive after a start is cut short at the next wall-clock boundary; the next two are whole.
  const grown = value(after, 'edge_agent_archive_recorded_seconds_total', { camera: 'cam1' }) - seconds0;
  t.ok(grown >= 2 * 3.5, `recorded seconds grew by two whole 4-s archives at least (${grown.toFixed(1)} s)`);

  t.equal(
    value(after, 'edge_agent_camera_restarts_total', { camera: 'cam1' }),
    0,
    'restarts: a series at 0 from the start',
  );

  // kill -9: the recording in progress is recovered at the next start, with its loss measured.
  agent.child.kill('SIGKILL');
  await agent.exited;
  agent = AgentProcess.start(dir, config);
  p = await port(agent);
  await agent.waitEvent('archive.recovered', 1, 60_000);
  const recovered = await waitFor('the recovered archive counted', async () => {
    const f = await families(p);
    return value(f, 'edge_agent_archives_recovered_total', { camera: 'cam1' }) >= 1 ? f : null;
  });
  const lost = value(recovered, 'edge_agent_archive_recovery_lost_seconds_total', { camera: 'cam1' });
  t.ok(lost >= 0 && lost < 2, `seconds lost at recovery measured: ${lost} (contract: at most 2)`);
});

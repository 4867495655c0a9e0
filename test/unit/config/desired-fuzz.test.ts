/**
 * 1,000 random desired documents through the real config service and desired handler, with the
 * agent's modules stood in for: every document ends applied, rejected or reverted as predicted,
 * and after each one the file on disk loads to exactly the config that is running.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { DesiredConfig, type DesiredState } from '../../../agent/config/desired.js';
import { loadConfig } from '../../../agent/config/load.js';
import type { AgentConfig } from '../../../agent/config/types.js';
import type { ReportedConfigMessage } from '../../../agent/contract/messages.js';
import { ConfigService } from '../../../agent/config/configService.js';
import { EventBus } from '../../../agent/util/bus.js';
import { silentLogger } from '../../../agent/util/logger.js';
import { randomSet } from '../../helpers/randomDesired.js';
import { Prng } from '../../reliability/lib/prng.js';

const DEAD_BROKER = 'mqtt://127.0.0.1:1';
const BUSY = '127.0.0.1:9';

t.test('1,000 random desired documents', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      device: { id: 'fuzz' },
      cameras: [{ id: 'cam1', source: 'test', width: 320, height: 240, fps: 10 }],
      hls: { dir: path.join(dir, 'hls') },
      archive: { dir: path.join(dir, 'archive') },
      // The bricks below move the broker and the HTTP port: keys only the old, opted-in behaviour lets an unsigned document change.
      mqtt: { url: 'mqtt://127.0.0.1:1883', configGateSeconds: 1, unsignedSensitiveChanges: true },
      http: { listen: '127.0.0.1:8080' },
      dataDir: path.join(dir, 'data'),
    }),
  );
  let running: AgentConfig = loadConfig({ file, env: {} }).config;
  // What the stand-in modules are doing: a dead broker never connects, a taken port refuses to bind.
  let applied: AgentConfig = running;
  const log = silentLogger();
  const service = new ConfigService({
    file,
    current: () => running,
    apply: async (next) => {
      running = next;
      applied = next;
      if (next.http.listen === BUSY) throw new Error('listen EADDRINUSE: address already in use 127.0.0.1:9');
    },
    signingRequired: () => false,
    probes: {
      link: async () => (applied.mqtt.url === DEAD_BROKER ? 'mqtt not connected' : null),
      http: () => null,
      cameras: () =>
        applied.cameras.map((c) => ({
          camera: c.id,
          state: 'running',
          encoder: 'libx264',
          source: c.source,
          fps: c.fps,
          droppedFrames: 0,
          restarts: 0,
          lastFrameAgeSeconds: 0.1,
          recordingSince: null,
          lastError: null,
        })),
    },
    unrecoverable: (reason) => t.fail(`unrecoverable: ${reason}`),
    bus: new EventBus(),
    log,
    gatePollMs: 50,
  });
  service.open();
  let state: DesiredState | null = null;
  const reports: ReportedConfigMessage[] = [];
  const desired = new DesiredConfig({
    change: (request) => service.change(request),
    load: () => state,
    save: (next) => (state = next),
    report: (message) => reports.push(message),
    config: () => running,
    signed: () => false,
    log,
  });

  const rng = new Prng(20261114);
  const counts: Record<string, number> = {};
  const wrong: string[] = [];
  const drift: number[] = [];
  for (let version = 1; version <= 1000; version += 1) {
    const { set, expect } = randomSet(rng, [
      ['mqtt.url', DEAD_BROKER],
      ['http.listen', BUSY],
    ]);
    await desired.process(Buffer.from(JSON.stringify({ version, set })));
    const report = reports.at(-1)!;
    counts[report.status] = (counts[report.status] ?? 0) + 1;
    const predicted = { valid: 'applied', invalid: 'rejected', brick: 'reverted' }[expect];
    if (report.version !== version || report.status !== predicted)
      wrong.push(`v${version} ${JSON.stringify(set)}: ${report.status} (${report.message})`);
    if (JSON.stringify(loadConfig({ file, env: {} }).config) !== JSON.stringify(running)) drift.push(version);
  }
  t.same(wrong, [], 'every document ended as predicted');
  t.same(drift, [], 'after every document the committed file loads to the running config');
  t.same(
    Object.keys(counts).sort(),
    ['applied', 'rejected', 'reverted'],
    `only applied, rejected, reverted: ${JSON.stringify(counts)}`,
  );
  t.equal(
    state!.applied,
    Math.max(...reports.filter((r) => r.status === 'applied').map((r) => r.version ?? 0)),
    'the applied version is the last applied document',
  );
  const stale = reports.length;
  await desired.process(Buffer.from(JSON.stringify({ version: 1, set: { 'encoder.bitrateKbps': 333 } })));
  t.match(reports.at(-1), { version: 1, status: 'stale', code: 409 }, 'a version below the applied one is stale');
  t.equal(reports.length, stale + 1, 'and reported once');
  t.not(running.encoder.bitrateKbps, 333, 'and changes nothing');
});

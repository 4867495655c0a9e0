import t from 'tap';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { HealthCollector, diskUsage } from '../../../agent/health/collector.js';
import { Sensors } from '../../../device/sensors.js';
import { FakePipeline, runningCamera, testConfig } from '../http/fakes.js';

const fixtures = fileURLToPath(new URL('../../fixtures/sysfs/', import.meta.url));

t.test('snapshot carries board, sensors, disk, cameras, process and extra figures', async (t) => {
  const dir = t.testdir({ archive: {} });
  const config = testConfig({ archiveDir: join(dir, 'archive'), hlsDir: join(dir, 'hls') });
  const cam = runningCamera('cam1', { fps: 14.8, droppedFrames: 3, restarts: 2 });
  const collector = new HealthCollector({
    config: () => config,
    pipeline: new FakePipeline([cam], join(dir, 'hls')),
    sensors: new Sensors({ sysRoot: join(fixtures, 'pi4'), vcgencmd: async () => 'throttled=0x50005' }),
    extra: () => ({ outbox: { depth: 4 }, mqtt: { connected: true }, device: 'must-not-win' }),
    now: () => new Date('2026-11-01T12:00:00Z'),
  });
  const report = await collector.snapshot();
  t.equal(report.ts, '2026-11-01T12:00:00.000Z');
  t.equal(report.device, 'test-board', 'core fields win over extra');
  t.same(report.outbox, { depth: 4 });
  t.same(report.mqtt, { connected: true });
  t.same(report.temperatures, [{ zone: 'thermal_zone0', type: 'cpu-thermal', celsius: 48.7 }]);
  t.equal(report.maxTemperatureCelsius, 48.7);
  t.equal(report.underVoltage, false, 'rpi_volt alarm is 0 even though the firmware saw under-voltage');
  t.equal(report.throttling?.underVoltageEver, true);
  t.same(report.cameras, [cam]);
  t.ok(report.disk && report.disk.totalBytes > 0 && report.disk.freeBytes <= report.disk.totalBytes);
  t.ok(report.disk && report.disk.freePercent >= 0 && report.disk.freePercent <= 100);
  t.ok(report.memory.totalBytes > 0 && report.memory.usedPercent >= 0 && report.memory.usedPercent <= 100);
  t.ok(report.cpu.cores >= 1);
  t.equal(report.cpu.loadAverage.length, 3);
  t.ok(report.process.rssBytes > 0);
  t.ok(report.process.uptimeSeconds >= 0);
  // Burn some CPU so the second snapshot has a delta to measure.
  const until = Date.now() + 50;
  while (Date.now() < until);
  const second = await collector.snapshot();
  t.ok(second.cpu.loadPercent !== null && second.cpu.loadPercent >= 0 && second.cpu.loadPercent <= 100);
});

t.test('a failing sensor source still yields a report', async (t) => {
  const dir = t.testdir();
  const collector = new HealthCollector({
    config: () => testConfig({ archiveDir: join(dir, 'archive'), hlsDir: join(dir, 'hls') }),
    pipeline: new FakePipeline([], dir),
    sensors: {
      read: async () => {
        throw new Error('sysfs gone');
      },
    },
  });
  const report = await collector.snapshot();
  t.same(report.temperatures, []);
  t.equal(report.maxTemperatureCelsius, null);
  t.equal(report.throttling, null);
});

t.test('diskUsage of a directory that does not exist yet reports its nearest parent', async (t) => {
  const dir = t.testdir();
  const usage = await diskUsage(join(dir, 'not', 'yet', 'made'));
  t.ok(usage);
  t.equal(usage?.path, join(dir, 'not', 'yet', 'made'));
  t.ok((usage?.totalBytes ?? 0) > 0);
});

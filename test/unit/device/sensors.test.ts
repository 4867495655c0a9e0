import t from 'tap';
import { cp, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { decodeThrottled, Sensors, type SensorReadings } from '../../../device/sensors.js';

const fixtures = fileURLToPath(new URL('../../fixtures/sysfs/', import.meta.url));
const noVcgencmd = async () => null;

const boards: Array<{ name: string; root: string; vcgencmd?: string; expect: Partial<SensorReadings> }> = [
  {
    name: 'pi4 with a healthy supply: one cpu zone, no under-voltage, firmware flags clear',
    root: 'pi4',
    vcgencmd: 'throttled=0x0\n',
    expect: {
      temperatures: [{ zone: 'thermal_zone0', type: 'cpu-thermal', celsius: 48.7 }],
      underVoltage: false,
      gpuLoadPercent: null,
    },
  },
  {
    name: 'jetson xavier: every zone but PMIC-Die, gpu load from devfreq gv11b',
    root: 'jetson-xavier',
    expect: {
      temperatures: [
        { zone: 'thermal_zone0', type: 'CPU-therm', celsius: 41.5 },
        { zone: 'thermal_zone1', type: 'GPU-therm', celsius: 39 },
        { zone: 'thermal_zone2', type: 'AUX-therm', celsius: 40 },
        { zone: 'thermal_zone3', type: 'AO-therm', celsius: 38.5 },
        { zone: 'thermal_zone5', type: 'Tboard_tegra', celsius: 35 },
        { zone: 'thermal_zone6', type: 'Tdiode_tegra', celsius: 36.8 },
        { zone: 'thermal_zone7', type: 'thermal-fan-est', celsius: 40.1 },
      ],
      underVoltage: null,
      throttling: null,
      gpuLoadPercent: 37.4,
    },
  },
  {
    name: 'pi5 on a weak supply: rpi_volt alarm raised, firmware says under-voltage and throttled now',
    root: 'pi5',
    vcgencmd: 'throttled=0x50005\n',
    expect: {
      temperatures: [{ zone: 'thermal_zone0', type: 'cpu-thermal', celsius: 71.9 }],
      underVoltage: true,
      throttling: {
        raw: '0x50005',
        underVoltageNow: true,
        freqCappedNow: false,
        throttledNow: true,
        softTempLimitNow: false,
        underVoltageEver: true,
        freqCappedEver: false,
        throttledEver: true,
        softTempLimitEver: false,
      },
      gpuLoadPercent: null,
      powerRails: null,
      overCurrent: null,
    },
  },
  {
    name: 'jetson orin nano: nine zones, GPU load from devfreq 17000000.gpu, INA3221 rails, OC counters',
    root: 'jetson-orin-nano',
    expect: {
      underVoltage: false,
      throttling: null,
      gpuLoadPercent: 61.2,
      powerRails: [
        { rail: 'VDD_IN', volts: 5.048, amps: 1.536, watts: 7.754, alarm: false },
        { rail: 'VDD_CPU_GPU_CV', volts: 5.04, amps: 0.488, watts: 2.46, alarm: false },
        { rail: 'VDD_SOC', volts: 5.032, amps: 0.44, watts: 2.214, alarm: false },
      ],
      overCurrent: { underVoltage: 3, averageOverCurrent: 0, instantOverCurrent: 37 },
    },
  },
  {
    name: 'x86: zones in numeric order, the disabled zone skipped, no pi or jetson sensors',
    root: 'x86',
    expect: {
      temperatures: [
        { zone: 'thermal_zone0', type: 'acpitz', celsius: 27.8 },
        { zone: 'thermal_zone2', type: 'x86_pkg_temp', celsius: 45 },
        { zone: 'thermal_zone10', type: 'iwlwifi_1', celsius: 39 },
      ],
      underVoltage: null,
      throttling: null,
      gpuLoadPercent: null,
    },
  },
  {
    name: 'a missing sysfs root reads as no sensors, not an error',
    root: 'does-not-exist',
    expect: {
      temperatures: [],
      underVoltage: null,
      throttling: null,
      gpuLoadPercent: null,
      powerRails: null,
      overCurrent: null,
    },
  },
];

for (const board of boards) {
  t.test(board.name, async (t) => {
    const vcgencmd = board.vcgencmd === undefined ? noVcgencmd : async () => board.vcgencmd ?? null;
    const readings = await new Sensors({ sysRoot: join(fixtures, board.root), vcgencmd }).read();
    t.match(readings, board.expect);
    if (board.expect.temperatures) t.same(readings.temperatures, board.expect.temperatures);
    if (board.expect.powerRails)
      t.same(readings.powerRails, board.expect.powerRails, 'exactly the labelled channels with a current');
  });
}

t.test(
  'jetson orin: under-voltage "now" is an OC1 event since the previous reading, the counters since boot',
  async (t) => {
    const root = t.testdir();
    await cp(join(fixtures, 'jetson-orin-nano'), root, { recursive: true });
    const counter = join(root, 'class/hwmon/hwmon2/oc1_event_cnt');
    const sensors = new Sensors({ sysRoot: root, vcgencmd: noVcgencmd });
    t.equal((await sensors.read()).underVoltage, false, 'first reading: 3 events since boot, none known to be now');
    await writeFile(counter, '5\n');
    const second = await sensors.read();
    t.equal(second.underVoltage, true, 'two more since: under-voltage now');
    t.equal(second.overCurrent?.underVoltage, 5);
    t.equal((await sensors.read()).underVoltage, false, 'no new event: over');
    await writeFile(join(root, 'class/hwmon/hwmon1/curr1_crit_alarm'), '1\n');
    t.equal((await sensors.read()).powerRails?.[0]?.alarm, true, 'VDD_IN critical-current alarm');
  },
);

const throttleCases: Array<{ name: string; output: string; set: string[] }> = [
  { name: 'all clear', output: 'throttled=0x0', set: [] },
  {
    name: 'under-voltage now and since boot, throttled now and since boot (a weak supply under load)',
    output: 'throttled=0x50005\n',
    set: ['underVoltageNow', 'throttledNow', 'underVoltageEver', 'throttledEver'],
  },
  {
    name: 'only sticky bits: under-voltage happened earlier',
    output: 'throttled=0x50000',
    set: ['underVoltageEver', 'throttledEver'],
  },
  {
    name: 'frequency capped and soft temperature limit now and ever (a hot board)',
    output: 'throttled=0xa000a',
    set: ['freqCappedNow', 'softTempLimitNow', 'freqCappedEver', 'softTempLimitEver'],
  },
  {
    name: 'every bit set',
    output: 'throttled=0xf000f',
    set: [
      'underVoltageNow',
      'freqCappedNow',
      'throttledNow',
      'softTempLimitNow',
      'underVoltageEver',
      'freqCappedEver',
      'throttledEver',
      'softTempLimitEver',
    ],
  },
];

for (const c of throttleCases) {
  t.test(`decodeThrottled: ${c.name}`, async (t) => {
    const flags = decodeThrottled(c.output);
    t.ok(flags);
    const set = Object.entries(flags ?? {})
      .filter(([k, v]) => k !== 'raw' && v === true)
      .map(([k]) => k);
    t.same(set.sort(), [...c.set].sort());
  });
}

t.test('decodeThrottled: not a throttled line gives null', async (t) => {
  t.equal(decodeThrottled('error=1 error_msg="Command not registered"'), null);
  t.equal(decodeThrottled(''), null);
});

t.test('pi4: rpi_volt alarm raised reports under-voltage even when vcgencmd is absent', async (t) => {
  const root = t.testdir();
  await cp(join(fixtures, 'pi4'), root, { recursive: true });
  await writeFile(join(root, 'class/hwmon/hwmon1/in0_lcrit_alarm'), '1\n');
  const readings = await new Sensors({ sysRoot: root, vcgencmd: noVcgencmd }).read();
  t.equal(readings.underVoltage, true);
  t.equal(readings.throttling, null);
});

t.test('pi without rpi_volt: under-voltage falls back to the firmware bit', async (t) => {
  const readings = await new Sensors({
    sysRoot: join(fixtures, 'x86'),
    vcgencmd: async () => 'throttled=0x50005',
  }).read();
  t.equal(readings.underVoltage, true);
  t.equal(readings.throttling?.raw, '0x50005');
});

t.test('a throwing or failing vcgencmd runner reads as no flags', async (t) => {
  const readings = await new Sensors({
    sysRoot: join(fixtures, 'pi4'),
    vcgencmd: async () => {
      throw new Error('mailbox timeout');
    },
  }).read();
  t.equal(readings.throttling, null);
  t.equal(readings.underVoltage, false);
});

t.test('default runner returns null on a machine without vcgencmd', async (t) => {
  const { systemVcgencmd } = await import('../../../device/sensors.js');
  t.equal(await systemVcgencmd(), null);
});

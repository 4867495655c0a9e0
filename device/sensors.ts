/**
 * Board sensors read straight from sysfs (and `vcgencmd` on a Pi): temperatures, under-voltage,
 * throttling, Jetson GPU load, power rails and over-current events. Facts only: what counts as
 * "too hot" is decided elsewhere.
 */
import { access, readdir, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { runChecked } from '../agent/util/run.js';

/** One thermal zone's reading. */
export interface Temperature {
  /** `thermal_zone0`, ... */
  zone: string;
  /** The zone's `type`: `cpu-thermal` (Pi), `CPU-therm` (Jetson), `x86_pkg_temp`, ... */
  type: string;
  celsius: number;
}

/** The Pi firmware's throttling flags (`vcgencmd get_throttled`), decoded. */
export interface ThrottleFlags {
  /** The raw bit field as the firmware printed it, e.g. `0x50005`. */
  raw: string;
  underVoltageNow: boolean;
  freqCappedNow: boolean;
  throttledNow: boolean;
  softTempLimitNow: boolean;
  underVoltageEver: boolean;
  freqCappedEver: boolean;
  throttledEver: boolean;
  softTempLimitEver: boolean;
}

/** One channel of a Jetson INA3221 power monitor (`VDD_IN` is the whole module). */
export interface PowerRail {
  rail: string;
  volts: number;
  amps: number;
  watts: number;
  /** The channel's critical-current alarm, where the driver has one. */
  alarm: boolean | null;
}

/**
 * Jetson Orin's SOC_THERM over-current (OC) event counters (`soctherm_oc` hwmon), cumulative
 * since boot: OC1 is under-voltage, OC2 average and OC3 instantaneous over-current. Each event
 * throttles the CPU and GPU.
 */
export interface OverCurrentEvents {
  underVoltage: number;
  averageOverCurrent: number;
  instantOverCurrent: number;
}

/** Everything the sensors module can tell; null where the board has no such sensor. */
export interface SensorReadings {
  temperatures: Temperature[];
  /**
   * Pi: `rpi_volt` hwmon alarm, else the firmware's under-voltage-now bit. Jetson Orin: an OC1
   * (under-voltage) event since the previous reading. Null where the board cannot tell.
   */
  underVoltage: boolean | null;
  throttling: ThrottleFlags | null;
  /** Jetson GPU load, 0-100; null where there is no devfreq GPU node. */
  gpuLoadPercent: number | null;
  /** Jetson INA3221 rails; null where there is no such monitor. */
  powerRails: PowerRail[] | null;
  /** Jetson Orin OC event counters since boot; null elsewhere. */
  overCurrent: OverCurrentEvents | null;
}

/** The readings of a board with no sensors at all. */
export const NO_SENSORS: SensorReadings = {
  temperatures: [],
  underVoltage: null,
  throttling: null,
  gpuLoadPercent: null,
  powerRails: null,
  overCurrent: null,
};

/** Runs `vcgencmd get_throttled` and returns its stdout, or null when the binary is absent or fails. */
export type VcgencmdRunner = () => Promise<string | null>;

/** What the sensors read from; both injectable so tests feed recorded trees from real boards. */
export interface SensorsDeps {
  /** Root of sysfs, `/sys` on a board; a fixture tree in tests. */
  sysRoot?: string;
  vcgencmd?: VcgencmdRunner;
}

// Jetson's PMIC-Die zone is a fixed placeholder that always reads 100 °C; reporting it would
// raise a false overheating alarm on every Jetson.
const IGNORED_ZONE_TYPES = new Set(['PMIC-Die']);

// Bits of `get_throttled` (Raspberry Pi firmware documentation): low half "now", high half "since boot".
const THROTTLE_BITS = {
  underVoltageNow: 0,
  freqCappedNow: 1,
  throttledNow: 2,
  softTempLimitNow: 3,
  underVoltageEver: 16,
  freqCappedEver: 17,
  throttledEver: 18,
  softTempLimitEver: 19,
} as const;

// Jetson devfreq GPU nodes: `57000000.gpu` (Nano), `17000000.gv11b` (Xavier), `17000000.ga10b` /
// `17000000.gpu` (Orin); only some of them contain "gpu", so match the GPU core names too.
const GPU_DEVFREQ = /gpu|gv11b|ga10b|gp10b|gm20b/i;

const VCGENCMD_PATHS = ['/usr/bin/vcgencmd', '/opt/vc/bin/vcgencmd', '/usr/local/bin/vcgencmd'];

/** Decodes the firmware's `throttled=0x...` line; null when it is not one. */
export function decodeThrottled(output: string): ThrottleFlags | null {
  const match = /throttled=(0x[0-9a-f]+|\d+)/i.exec(output);
  if (!match?.[1]) return null;
  const value = Number(match[1]);
  const flags = { raw: match[1] } as ThrottleFlags;
  for (const [name, bit] of Object.entries(THROTTLE_BITS)) {
    flags[name as keyof typeof THROTTLE_BITS] = (value & (1 << bit)) !== 0;
  }
  return flags;
}

/** The default runner: the real `vcgencmd`, when one of its usual paths exists. */
export const systemVcgencmd: VcgencmdRunner = async () => {
  for (const path of VCGENCMD_PATHS) {
    try {
      await access(path, constants.X_OK);
    } catch {
      continue;
    }
    // A wedged firmware mailbox can hang vcgencmd; never let it stall a health report.
    return runChecked(path, ['get_throttled'], { timeoutMs: 2000 }).catch(() => null);
  }
  return null;
};

async function readText(path: string): Promise<string | null> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return null;
  }
}

async function listDir(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  } catch {
    return [];
  }
}

/** Reads the board's sensors on demand; keeps only the last OC counters, to tell "now" from "since boot". */
export class Sensors {
  private readonly sysRoot: string;
  private readonly vcgencmd: VcgencmdRunner;
  private lastOverCurrent: OverCurrentEvents | null = null;

  constructor(deps: SensorsDeps = {}) {
    this.sysRoot = deps.sysRoot ?? '/sys';
    this.vcgencmd = deps.vcgencmd ?? systemVcgencmd;
  }

  /** All readings at once; a missing or unreadable sensor is left out, never an error. */
  async read(): Promise<SensorReadings> {
    // One pass over the hwmon folders serves the three readers that look for one by name.
    const hwmons = this.scanHwmons();
    const [temperatures, voltAlarm, throttling, gpuLoadPercent, powerRails, overCurrent] = await Promise.all([
      this.temperatures(),
      this.rpiVoltAlarm(hwmons),
      this.throttling(),
      this.gpuLoad(),
      this.powerRails(hwmons),
      this.overCurrent(hwmons),
    ]);
    // The counters only ever grow: one that grew since the last reading is under-voltage now.
    const previous = this.lastOverCurrent;
    this.lastOverCurrent = overCurrent;
    const jetsonUnderVoltage = overCurrent
      ? previous !== null && overCurrent.underVoltage > previous.underVoltage
      : null;
    const underVoltage = voltAlarm ?? throttling?.underVoltageNow ?? jetsonUnderVoltage;
    return { temperatures, underVoltage, throttling, gpuLoadPercent, powerRails, overCurrent };
  }

  /** The hwmon folders by their `name` (`rpi_volt`, `ina3221`, `soctherm_oc`, ...). */
  private async scanHwmons(): Promise<Map<string, string[]>> {
    const base = join(this.sysRoot, 'class/hwmon');
    const byName = new Map<string, string[]>();
    for (const dev of await listDir(base)) {
      const name = await readText(join(base, dev, 'name'));
      if (name) byName.set(name, [...(byName.get(name) ?? []), join(base, dev)]);
    }
    return byName;
  }

  /** Every labelled INA3221 channel (mV and mA in sysfs); null without one. */
  async powerRails(hwmons = this.scanHwmons()): Promise<PowerRail[] | null> {
    const monitors = (await hwmons).get('ina3221') ?? [];
    if (monitors.length === 0) return null;
    const rails: PowerRail[] = [];
    for (const dir of monitors) {
      for (const label of (await listDir(dir)).filter((f) => /^in\d+_label$/.test(f))) {
        const channel = label.slice(2, -'_label'.length);
        const [rail, mv, ma, alarm] = await Promise.all(
          [label, `in${channel}_input`, `curr${channel}_input`, `curr${channel}_crit_alarm`].map((f) =>
            readText(join(dir, f)),
          ),
        );
        const volts = Number(mv) / 1000;
        const amps = Number(ma) / 1000;
        // Unconnected channels and the "sum of shunt voltages" channel have no current.
        if (!rail || mv === null || ma === null || !Number.isFinite(volts) || !Number.isFinite(amps)) continue;
        rails.push({
          rail,
          volts,
          amps,
          watts: Math.round(volts * amps * 1000) / 1000,
          alarm: alarm === null ? null : alarm === '1',
        });
      }
    }
    return rails;
  }

  /** Jetson Orin's OC event counters; null without a `soctherm_oc` hwmon. */
  async overCurrent(hwmons = this.scanHwmons()): Promise<OverCurrentEvents | null> {
    const [dir] = (await hwmons).get('soctherm_oc') ?? [];
    if (!dir) return null;
    const count = async (n: number) => {
      const value = Number(await readText(join(dir, `oc${n}_event_cnt`)));
      return Number.isFinite(value) ? value : 0;
    };
    const [underVoltage, averageOverCurrent, instantOverCurrent] = await Promise.all([count(1), count(2), count(3)]);
    return { underVoltage, averageOverCurrent, instantOverCurrent };
  }

  /** Every thermal zone that reads a number, in zone order. */
  async temperatures(): Promise<Temperature[]> {
    const base = join(this.sysRoot, 'class/thermal');
    const zones = (await listDir(base)).filter((name) => name.startsWith('thermal_zone'));
    const readings = await Promise.all(
      zones.map(async (zone): Promise<Temperature | null> => {
        const [type, temp] = await Promise.all([
          readText(join(base, zone, 'type')),
          // A disabled zone fails the read with EINVAL or ENODATA: skip it.
          readText(join(base, zone, 'temp')),
        ]);
        const milli = temp === null ? NaN : Number(temp);
        if (!Number.isFinite(milli) || temp === '') return null;
        if (type !== null && IGNORED_ZONE_TYPES.has(type)) return null;
        return { zone, type: type ?? zone, celsius: Math.round(milli / 100) / 10 };
      }),
    );
    return readings.filter((r): r is Temperature => r !== null);
  }

  /** The Pi's `rpi_volt` hwmon under-voltage alarm; null when the board has none. */
  async rpiVoltAlarm(hwmons = this.scanHwmons()): Promise<boolean | null> {
    const [dir] = (await hwmons).get('rpi_volt') ?? [];
    if (!dir) return null;
    const alarm = await readText(join(dir, 'in0_lcrit_alarm'));
    return alarm === null ? null : alarm === '1';
  }

  /** The firmware's sticky throttling flags; null without `vcgencmd`. */
  async throttling(): Promise<ThrottleFlags | null> {
    try {
      const output = await this.vcgencmd();
      return output === null ? null : decodeThrottled(output);
    } catch {
      return null;
    }
  }

  /** Jetson GPU load in percent (devfreq reports tenths of a percent). */
  async gpuLoad(): Promise<number | null> {
    const base = join(this.sysRoot, 'class/devfreq');
    for (const dev of (await listDir(base)).filter((name) => GPU_DEVFREQ.test(name))) {
      const load = await readText(join(base, dev, 'device/load'));
      if (load !== null && load !== '' && Number.isFinite(Number(load))) return Number(load) / 10;
    }
    return null;
  }
}

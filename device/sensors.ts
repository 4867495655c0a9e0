/**
 * Board sensors read straight from sysfs (and `vcgencmd` on a Pi): temperatures, under-voltage,
 * throttling and Jetson GPU load. Facts only: what counts as "too hot" is decided elsewhere.
 */
import { execFile } from 'node:child_process';
import { access, readdir, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { childEnv } from '../agent/util/childEnv.js';

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

/** Everything the sensors module can tell; null where the board has no such sensor. */
export interface SensorReadings {
  temperatures: Temperature[];
  /** Pi: `rpi_volt` hwmon alarm, else the firmware's under-voltage-now bit; null elsewhere. */
  underVoltage: boolean | null;
  throttling: ThrottleFlags | null;
  /** Jetson GPU load, 0-100; null where there is no devfreq GPU node. */
  gpuLoadPercent: number | null;
}

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
    return new Promise((resolve) => {
      // A wedged firmware mailbox can hang vcgencmd; never let it stall a health report.
      execFile(path, ['get_throttled'], { timeout: 2000, env: childEnv() }, (error, stdout) => resolve(error ? null : stdout));
    });
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

/** Reads the board's sensors on demand; holds no state between reads. */
export class Sensors {
  private readonly sysRoot: string;
  private readonly vcgencmd: VcgencmdRunner;

  constructor(deps: SensorsDeps = {}) {
    this.sysRoot = deps.sysRoot ?? '/sys';
    this.vcgencmd = deps.vcgencmd ?? systemVcgencmd;
  }

  /** All readings at once; a missing or unreadable sensor is left out, never an error. */
  async read(): Promise<SensorReadings> {
    const [temperatures, voltAlarm, throttling, gpuLoadPercent] = await Promise.all([
      this.temperatures(),
      this.rpiVoltAlarm(),
      this.throttling(),
      this.gpuLoad(),
    ]);
    const underVoltage = voltAlarm ?? throttling?.underVoltageNow ?? null;
    return { temperatures, underVoltage, throttling, gpuLoadPercent };
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
  async rpiVoltAlarm(): Promise<boolean | null> {
    const base = join(this.sysRoot, 'class/hwmon');
    for (const dev of await listDir(base)) {
      if ((await readText(join(base, dev, 'name'))) !== 'rpi_volt') continue;
      const alarm = await readText(join(base, dev, 'in0_lcrit_alarm'));
      return alarm === null ? null : alarm === '1';
    }
    return null;
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

import { Sensors, type OverCurrentEvents, type PowerRail } from '../../../device/sensors.js';
import { fail, ok, warn, type CheckResult, type DoctorContext } from '../types.js';

const NAME = 'power/throttling';
const PSU =
  'use the official supply (Pi 4: 5.1 V 3 A, Pi 5: 5.1 V 5 A) and a short thick cable; powered USB hubs for cameras';
const JETSON_PSU =
  'use a supply rated for the power mode (Orin Nano: 5 V/19 V per the carrier board, 25 W mode and up need more), a short cable; or a lower nvpmodel mode';

/** Under-voltage and throttling, now and since boot: the Pi firmware's sticky bits, Jetson Orin's OC counters. */
export async function checkThrottling(ctx: DoctorContext): Promise<CheckResult> {
  const sensors = new Sensors({ sysRoot: `${ctx.root.replace(/\/$/, '')}/sys`, vcgencmd: ctx.vcgencmd });
  const r = await sensors.read();
  if (r.overCurrent || r.powerRails) return jetsonPower(r.overCurrent, r.powerRails ?? []);
  const t = r.throttling;
  if (!t && r.underVoltage === null) return ok(NAME, 'no Raspberry Pi or Jetson power sensors here: nothing to check');
  if (r.underVoltage || t?.underVoltageNow)
    return fail(NAME, `under-voltage now${t ? ` (get_throttled=${t.raw})` : ''}`, PSU);
  if (t?.throttledNow || t?.freqCappedNow) {
    return warn(
      NAME,
      `throttled now (get_throttled=${t.raw}): frames may drop`,
      'improve cooling (heatsink, fan, case airflow) and check the supply',
    );
  }
  if (t?.underVoltageEver) return warn(NAME, `under-voltage happened since boot (get_throttled=${t.raw})`, PSU);
  if (t?.throttledEver || t?.softTempLimitEver) {
    return warn(NAME, `throttled since boot (get_throttled=${t.raw})`, 'improve cooling (heatsink, fan, case airflow)');
  }
  return ok(NAME, t ? `no under-voltage or throttling since boot (get_throttled=${t.raw})` : 'no under-voltage');
}

/** Jetson: a rail's critical-current alarm now, or OC events (each throttled CPU and GPU) since boot. */
function jetsonPower(oc: OverCurrentEvents | null, rails: PowerRail[]): CheckResult {
  const draw = rails.find((rail) => rail.rail === 'VDD_IN');
  const drawText = draw ? `; module draw ${draw.watts.toFixed(1)} W at ${draw.volts.toFixed(2)} V` : '';
  const alarmed = rails.filter((rail) => rail.alarm).map((rail) => rail.rail);
  if (alarmed.length > 0) return fail(NAME, `critical current on ${alarmed.join(', ')} now${drawText}`, JETSON_PSU);
  if (oc && oc.underVoltage > 0)
    return warn(
      NAME,
      `${oc.underVoltage} under-voltage (OC1) event(s) since boot, each throttling CPU and GPU${drawText}`,
      JETSON_PSU,
    );
  if (oc && oc.averageOverCurrent + oc.instantOverCurrent > 0) {
    return warn(
      NAME,
      `over-current events since boot: ${oc.averageOverCurrent} average (OC2), ${oc.instantOverCurrent} instantaneous (OC3), each throttling CPU and GPU${drawText}`,
      JETSON_PSU,
    );
  }
  return ok(NAME, `no under-voltage or over-current since boot${drawText}`);
}

import { Sensors } from '../../../device/sensors.js';
import { fail, ok, warn, type CheckResult, type DoctorContext } from '../types.js';

const NAME = 'power/throttling';
const PSU = 'use the official supply (Pi 4: 5.1 V 3 A, Pi 5: 5.1 V 5 A) and a short thick cable; powered USB hubs for cameras';

/** Raspberry Pi under-voltage and throttling, now and since boot (firmware sticky bits). */
export async function checkThrottling(ctx: DoctorContext): Promise<CheckResult> {
  const sensors = new Sensors({ sysRoot: `${ctx.root.replace(/\/$/, '')}/sys`, vcgencmd: ctx.vcgencmd });
  const r = await sensors.read();
  const t = r.throttling;
  if (!t && r.underVoltage === null) return ok(NAME, 'no Raspberry Pi power sensors here: nothing to check');
  if (r.underVoltage || t?.underVoltageNow) return fail(NAME, `under-voltage now${t ? ` (get_throttled=${t.raw})` : ''}`, PSU);
  if (t?.throttledNow || t?.freqCappedNow) {
    return warn(NAME, `throttled now (get_throttled=${t.raw}): frames may drop`, 'improve cooling (heatsink, fan, case airflow) and check the supply');
  }
  if (t?.underVoltageEver) return warn(NAME, `under-voltage happened since boot (get_throttled=${t.raw})`, PSU);
  if (t?.throttledEver || t?.softTempLimitEver) {
    return warn(NAME, `throttled since boot (get_throttled=${t.raw})`, 'improve cooling (heatsink, fan, case airflow)');
  }
  return ok(NAME, t ? `no under-voltage or throttling since boot (get_throttled=${t.raw})` : 'no under-voltage');
}

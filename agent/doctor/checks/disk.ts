import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { nearestDiskSpace } from '../../util/disk.js';
import { fail, ok, warn, type CheckResult, type DoctorContext } from '../types.js';

const GB = 1024 ** 3;

/** Free space where archives go, against archive.minFreePercent (below it, retention prunes and recording suffers). */
export async function checkDisk(ctx: DoctorContext): Promise<CheckResult> {
  const { dir, minFreePercent } = ctx.config.archive;
  const name = 'disk';
  const found = await nearestDiskSpace(dir, ctx.statfs);
  if (!found)
    return fail(
      name,
      `cannot read free space of ${dir} or any folder above it`,
      `create ${dir} and make it writable by edge-agent`,
    );
  const { at, space } = found;
  const percent = space.totalBytes > 0 ? (100 * space.freeBytes) / space.totalBytes : 0;
  const detail = `${(space.freeBytes / GB).toFixed(1)} GB free of ${(space.totalBytes / GB).toFixed(1)} GB (${percent.toFixed(1)} %) at ${at}`;
  const fix =
    `free space under ${dir} (oldest archives first), lower archive.maxAgeHours, or move archive.dir to a larger disk; ` +
    `archive.minFreePercent is ${minFreePercent}`;
  if (percent < minFreePercent) return fail(name, `${detail}, below archive.minFreePercent ${minFreePercent}`, fix);
  if (percent < minFreePercent * 2)
    return warn(name, `${detail}, close to archive.minFreePercent ${minFreePercent}`, fix);
  return ok(name, detail);
}

// eMMC wear estimates (JEDEC): life_time "0xAA 0xBB" in 10 % steps (0x0B = past its rated life),
// pre_eol_info 0x01 normal, 0x02 warning (80 % of reserved blocks used), 0x03 urgent.
function lifeStep(hex: string | undefined): number {
  return hex ? Number.parseInt(hex, 16) || 0 : 0;
}

/** Wear of MMC storage (eMMC modules, CM4, Jetson) from sysfs; plain SD cards do not report it. */
export async function checkSdWear(ctx: DoctorContext): Promise<CheckResult> {
  const name = 'storage wear';
  const blockDir = path.join(ctx.root, 'sys/block');
  const mmcs = (await readdir(blockDir).catch(() => [] as string[])).filter((d) => /^mmcblk\d+$/.test(d));
  if (mmcs.length === 0) return ok(name, 'no MMC storage: nothing to check');
  const findings: string[] = [];
  let worst: 'ok' | 'warn' | 'fail' = 'ok';
  for (const dev of mmcs) {
    const read = (f: string) =>
      readFile(path.join(blockDir, dev, 'device', f), 'utf8').then(
        (s) => s.trim(),
        () => undefined,
      );
    const [life, eol] = await Promise.all([read('life_time'), read('pre_eol_info')]);
    if (life === undefined && eol === undefined) {
      findings.push(`${dev}: no wear data (an SD card)`);
      continue;
    }
    const used = Math.max(...(life ?? '').split(/\s+/).map(lifeStep));
    const eolLevel = lifeStep(eol);
    findings.push(`${dev}: ${used >= 11 ? 'past rated life' : `about ${used * 10} % worn`}, pre-EOL ${eol ?? 'n/a'}`);
    if (used >= 11 || eolLevel >= 3) worst = 'fail';
    else if ((used >= 9 || eolLevel === 2) && worst === 'ok') worst = 'warn';
  }
  const detail = findings.join('; ');
  const fix = 'plan a storage replacement; keep archives on a high-endurance card or a USB SSD (archive.dir)';
  if (worst === 'fail') return fail(name, detail, fix);
  if (worst === 'warn') return warn(name, detail, fix);
  return ok(name, `${detail}${detail.includes('SD card') ? ' — use a high-endurance card for 24/7 recording' : ''}`);
}

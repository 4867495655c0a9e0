import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BoardFamily, BoardInfo } from './types.js';

/**
 * Where the board's own files (device tree, L4T release) are read from: `/`, or the tree named
 * by EDGE_AGENT_HOST_ROOT, which stands in for a board (tests; a technician replaying a report).
 */
export function hostRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.EDGE_AGENT_HOST_ROOT || '/';
}

/**
 * Which board this is, from the device tree and L4T release file under `root` (a fixture tree
 * in tests). Never throws: anything unrecognised is `generic`.
 */
export async function detectBoard(root = '/'): Promise<BoardInfo> {
  const model = clean(await readText(root, 'proc/device-tree/model'));
  const compatible = splitNul(await readText(root, 'proc/device-tree/compatible'));
  const tegraRelease = await readText(root, 'etc/nv_tegra_release');
  const kernel = os.release();
  const l4t = tegraRelease === undefined ? undefined : parseL4t(tegraRelease);
  const family = classify(model ?? '', compatible, tegraRelease !== undefined);
  const info: BoardInfo = { family, model: model ?? (await genericModel(root, family, l4t)), kernel };
  if (l4t !== undefined) info.l4t = l4t;
  return info;
}

/** The family from the device-tree model and compatible strings (exported for table tests). */
export function classify(model: string, compatible: string[], hasTegraRelease: boolean): BoardFamily {
  const compat = compatible.join(' ');
  if (/raspberry pi/i.test(model) || compat.includes('raspberrypi,')) {
    // The Pi 5 family (5, 500, CM5) is BCM2712: no H.264 encoder block at all.
    if (compat.includes('brcm,bcm2712') || /raspberry pi (5|500|compute module 5)/i.test(model)) return 'pi5';
    return 'pi-legacy';
  }
  const tegra = hasTegraRelease || compat.includes('nvidia,tegra') || /jetson|nvidia/i.test(model);
  if (!tegra) return 'generic';
  // Orin Nano modules are p3767-0003/-0004/-0005 (Orin NX is -0000/-0001 on the same carrier):
  // same SoC as Orin NX but the NVENC block is fused off, so nvv4l2h264enc fails.
  if (/nvidia,p3767-000[345]/.test(compat) || /orin nano/i.test(model)) return 'jetson-orin-nano';
  return 'jetson';
}

/** "R35 (release), REVISION: 4.1, ..." → "R35.4.1". */
export function parseL4t(text: string): string | undefined {
  const m = /#\s*R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)/.exec(text);
  return m ? `R${m[1]}.${m[2]}` : undefined;
}

async function genericModel(root: string, family: BoardFamily, l4t: string | undefined): Promise<string> {
  if (family !== 'generic') return `NVIDIA Jetson${l4t ? ` (L4T ${l4t})` : ''}`;
  // x86 machines have no device tree; DMI names the product.
  const vendor = clean(await readText(root, 'sys/class/dmi/id/sys_vendor'));
  const product = clean(await readText(root, 'sys/class/dmi/id/product_name'));
  const name = [vendor, product].filter(Boolean).join(' ');
  return name || `${os.arch()} linux`;
}

async function readText(root: string, rel: string): Promise<string | undefined> {
  try {
    return await readFile(path.join(root, rel), 'latin1');
  } catch {
    return undefined;
  }
}

/** Device-tree strings end in NUL (and `compatible` is a NUL-separated list). */
function splitNul(text: string | undefined): string[] {
  return (text ?? '')
    .split('\0')
    .map((s) => s.trim())
    .filter(Boolean);
}

function clean(text: string | undefined): string | undefined {
  const s = text?.replace(/\0/g, '').trim();
  return s ? s : undefined;
}

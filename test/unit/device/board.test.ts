import os from 'node:os';
import t from 'tap';
import { classify, detectBoard, parseL4t } from '../../../device/board.js';

const nul = (...parts: string[]): string => parts.map((p) => `${p}\0`).join('');

interface Case {
  name: string;
  tree: Record<string, string>;
  family: string;
  model: string;
  l4t?: string;
}

const R35 =
  '# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64, DATE: Tue Aug  1 19:57:35 UTC 2023\n';
const R36 =
  '# R36 (release), REVISION: 3.0, GCID: 36923193, BOARD: generic, EABI: aarch64, DATE: Fri Jul 19 23:24:25 UTC 2024\n';
const R32 =
  '# R32 (release), REVISION: 7.4, GCID: 33514132, BOARD: t210ref, EABI: aarch64, DATE: Fri Jun  9 04:25:08 UTC 2023\n';

const cases: Case[] = [
  {
    name: 'Pi 3 B+ is pi-legacy (v4l2m2m encoder)',
    tree: {
      model: nul('Raspberry Pi 3 Model B Plus Rev 1.3'),
      compatible: nul('raspberrypi,3-model-b-plus', 'brcm,bcm2837'),
    },
    family: 'pi-legacy',
    model: 'Raspberry Pi 3 Model B Plus Rev 1.3',
  },
  {
    name: 'Pi 4 B is pi-legacy',
    tree: { model: nul('Raspberry Pi 4 Model B Rev 1.4'), compatible: nul('raspberrypi,4-model-b', 'brcm,bcm2711') },
    family: 'pi-legacy',
    model: 'Raspberry Pi 4 Model B Rev 1.4',
  },
  {
    name: 'Pi Zero 2 W is pi-legacy',
    tree: {
      model: nul('Raspberry Pi Zero 2 W Rev 1.0'),
      compatible: nul('raspberrypi,model-zero-2-w', 'brcm,bcm2837'),
    },
    family: 'pi-legacy',
    model: 'Raspberry Pi Zero 2 W Rev 1.0',
  },
  {
    name: 'Pi 5 is pi5 (no encoder) by its BCM2712',
    tree: { model: nul('Raspberry Pi 5 Model B Rev 1.0'), compatible: nul('raspberrypi,5-model-b', 'brcm,bcm2712') },
    family: 'pi5',
    model: 'Raspberry Pi 5 Model B Rev 1.0',
  },
  {
    name: 'Compute Module 5 without a bcm2712 compatible is still pi5 by model',
    tree: { model: nul('Raspberry Pi Compute Module 5 Rev 1.0') },
    family: 'pi5',
    model: 'Raspberry Pi Compute Module 5 Rev 1.0',
  },
  {
    name: 'Jetson Xavier NX is jetson',
    tree: {
      model: nul('NVIDIA Jetson Xavier NX Developer Kit'),
      compatible: nul('nvidia,p3509-0000+p3668-0001', 'nvidia,tegra194'),
      nv: R35,
    },
    family: 'jetson',
    model: 'NVIDIA Jetson Xavier NX Developer Kit',
    l4t: 'R35.4.1',
  },
  {
    name: 'Jetson Orin NX (p3767-0000) is jetson: it has NVENC',
    tree: {
      model: nul('NVIDIA Orin NX Developer Kit'),
      compatible: nul('nvidia,p3768-0000+p3767-0000', 'nvidia,p3767-0000', 'nvidia,tegra234'),
      nv: R35,
    },
    family: 'jetson',
    model: 'NVIDIA Orin NX Developer Kit',
    l4t: 'R35.4.1',
  },
  {
    name: 'Jetson Orin Nano devkit (p3767-0005) is jetson-orin-nano: no NVENC',
    tree: {
      model: nul('NVIDIA Jetson Orin Nano Developer Kit'),
      compatible: nul('nvidia,p3768-0000+p3767-0005', 'nvidia,p3767-0005', 'nvidia,tegra234'),
      nv: R36,
    },
    family: 'jetson-orin-nano',
    model: 'NVIDIA Jetson Orin Nano Developer Kit',
    l4t: 'R36.3.0',
  },
  {
    name: 'Orin Nano 4GB module (p3767-0004) on a third-party carrier with a vague model',
    tree: {
      model: nul('NVIDIA Orin Carrier'),
      compatible: nul('vendor,carrier+p3767-0004', 'nvidia,p3767-0004', 'nvidia,tegra234'),
    },
    family: 'jetson-orin-nano',
    model: 'NVIDIA Orin Carrier',
  },
  {
    name: 'Jetson Nano (JetPack 4, R32) is jetson, legacy L4T recorded',
    tree: {
      model: nul('NVIDIA Jetson Nano Developer Kit'),
      compatible: nul('nvidia,p3450-0000', 'nvidia,jetson-nano', 'nvidia,tegra210'),
      nv: R32,
    },
    family: 'jetson',
    model: 'NVIDIA Jetson Nano Developer Kit',
    l4t: 'R32.7.4',
  },
  {
    name: 'a container on a Jetson: only nv_tegra_release',
    tree: { nv: R35 },
    family: 'jetson',
    model: 'NVIDIA Jetson (L4T R35.4.1)',
    l4t: 'R35.4.1',
  },
  {
    name: 'generic x86 names its DMI product',
    tree: { vendor: 'Intel(R) Client Systems\n', product: 'NUC11TNHi5\n' },
    family: 'generic',
    model: 'Intel(R) Client Systems NUC11TNHi5',
  },
  {
    name: 'an unknown arm board with a device tree is generic with its model',
    tree: { model: nul('Radxa ROCK 5B'), compatible: nul('radxa,rock-5b', 'rockchip,rk3588') },
    family: 'generic',
    model: 'Radxa ROCK 5B',
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const files: Record<string, unknown> = {};
    const dt: Record<string, string> = {};
    if (c.tree.model !== undefined) dt.model = c.tree.model;
    if (c.tree.compatible !== undefined) dt.compatible = c.tree.compatible;
    if (Object.keys(dt).length) files.proc = { 'device-tree': dt };
    if (c.tree.nv !== undefined) files.etc = { nv_tegra_release: c.tree.nv };
    if (c.tree.product !== undefined) {
      files.sys = { class: { dmi: { id: { sys_vendor: c.tree.vendor, product_name: c.tree.product } } } };
    }
    const root = t.testdir(files as Parameters<typeof t.testdir>[0]);
    const board = await detectBoard(root);
    t.equal(board.family, c.family);
    t.equal(board.model, c.model);
    t.equal(board.kernel, os.release());
    t.equal(board.l4t, c.l4t);
  });
}

t.test('an empty root is generic, named by architecture', async (t) => {
  const board = await detectBoard(t.testdir({}));
  t.equal(board.family, 'generic');
  t.equal(board.model, `${os.arch()} linux`);
});

t.test('classify and parseL4t directly', async (t) => {
  t.equal(classify('', ['nvidia,tegra194'], false), 'jetson');
  t.equal(classify('Some PC', [], false), 'generic');
  t.equal(parseL4t('garbage'), undefined);
});

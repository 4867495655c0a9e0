/** Parsers for `v4l2-ctl` output (v4l-utils 1.2x); recorded outputs live in test/fixtures/device/v4l2/. */

/** One frame size a camera offers in one format, with the frame rates it offers there. */
export interface CameraSize {
  width: number;
  height: number;
  /** Frame rates, highest first. */
  fps: number[];
}

/** One pixel format (V4L2 fourcc such as MJPG, YUYV, H264) and its sizes. */
export interface CameraFormat {
  fourcc: string;
  sizes: CameraSize[];
}

/** What `v4l2-ctl -D` says about one node. */
export interface DeviceInfo {
  driver?: string;
  card?: string;
  busInfo?: string;
  /** The capabilities of this node ("Device Caps"), not of the whole device ("Capabilities"). */
  deviceCaps: string[];
}

/** Parses `v4l2-ctl -D -d DEV`. */
export function parseDeviceInfo(text: string): DeviceInfo {
  const info: DeviceInfo = { deviceCaps: [] };
  let section = '';
  let inCaps = false;
  for (const line of text.split('\n')) {
    if (/^\S/.test(line)) {
      section = line.trim();
      inCaps = false;
      continue;
    }
    if (section !== 'Driver Info:') continue;
    const field = /^\t([^\t:][^:]*?)\s*:\s*(.*)$/.exec(line);
    if (field) {
      const [, key = '', value = ''] = field;
      // UVC cameras expose a capture node and a metadata node: only Device Caps tells them apart.
      inCaps = key === 'Device Caps';
      if (key === 'Driver name') info.driver = value;
      else if (key === 'Card type') info.card = value;
      else if (key === 'Bus info') info.busInfo = value;
      continue;
    }
    const cap = /^\t\t(\S.*)$/.exec(line);
    if (inCaps && cap?.[1]) info.deviceCaps.push(cap[1].trim());
  }
  return info;
}

/** Sizes offered within a stepwise/continuous range: the common ones plus the maximum. */
const COMMON_SIZES: [number, number][] = [
  [320, 240],
  [640, 480],
  [800, 600],
  [1280, 720],
  [1920, 1080],
  [2560, 1440],
  [3840, 2160],
];

/** Rates offered within a continuous interval range. */
const COMMON_RATES = [60, 50, 30, 25, 24, 20, 15, 10, 5];

/** Parses `v4l2-ctl --list-formats-ext -d DEV` (video capture formats only). */
export function parseFormats(text: string): CameraFormat[] {
  const formats: CameraFormat[] = [];
  let format: CameraFormat | undefined;
  let sizes: CameraSize[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const fmt = /^\[\d+\]:\s*'([^']+)'/.exec(line);
    if (fmt) {
      format = { fourcc: (fmt[1] ?? '').trim(), sizes: [] };
      formats.push(format);
      sizes = [];
      continue;
    }
    if (!format) continue;
    const discrete = /^Size: Discrete (\d+)x(\d+)/.exec(line);
    if (discrete) {
      sizes = [{ width: Number(discrete[1]), height: Number(discrete[2]), fps: [] }];
      format.sizes.push(...sizes);
      continue;
    }
    const range = /^Size: (?:Stepwise|Continuous) (\d+)x(\d+) - (\d+)x(\d+)/.exec(line);
    if (range) {
      const [minW, minH, maxW, maxH] = range.slice(1, 5).map(Number) as [number, number, number, number];
      const within = COMMON_SIZES.filter(([w, h]) => w >= minW && h >= minH && w <= maxW && h <= maxH);
      if (!within.some(([w, h]) => w === maxW && h === maxH)) within.push([maxW, maxH]);
      sizes = within.map(([width, height]) => ({ width, height, fps: [] }));
      format.sizes.push(...sizes);
      continue;
    }
    const interval = /^Interval: Discrete [\d.]+s \(([\d.]+) fps\)/.exec(line);
    if (interval) {
      for (const size of sizes) addRate(size, Number(interval[1]));
      continue;
    }
    const span = /^Interval: (?:Continuous|Stepwise) .*\(([\d.]+)-([\d.]+) fps\)/.exec(line);
    if (span) {
      const [lo, hi] = [Number(span[1]), Number(span[2])];
      const rates = COMMON_RATES.filter((r) => r >= lo && r <= hi);
      for (const size of sizes) for (const r of [hi, ...rates]) addRate(size, r);
    }
  }
  for (const f of formats) for (const s of f.sizes) s.fps.sort((a, b) => b - a);
  return formats;
}

function addRate(size: CameraSize, fps: number): void {
  // 30.000 fps, but also 29.970 from some cameras: keep three decimals at most.
  const rate = Math.round(fps * 1000) / 1000;
  if (!size.fps.includes(rate)) size.fps.push(rate);
}

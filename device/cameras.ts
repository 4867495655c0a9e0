import { readdir, readFile, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { runCommand, type CommandRunner } from '../agent/util/run.js';
import type { CaptureSpec } from './types.js';
import { parseDeviceInfo, parseFormats, type CameraFormat, type DeviceInfo } from './v4l2ctl.js';

export type { CameraFormat, CameraSize } from './v4l2ctl.js';

/** A V4L2 capture camera (a USB webcam, the Pi's legacy bcm2835-v4l2 camera, a capture card). */
export interface Camera {
  /** The kernel node, `/dev/videoN`. */
  device: string;
  /** The stable `/dev/v4l/by-id/...` name when udev made one: it survives replugging. */
  byId?: string;
  name: string;
  driver?: string;
  /** bcdUVC from the USB descriptors ("1.00", "1.10", "1.50"), when this is a UVC camera. */
  uvcVersion?: string;
  formats: CameraFormat[];
}

/** Where to look and how to run v4l2-ctl; tests point these at fixture trees and recorded output. */
export interface CameraScanOptions {
  sysRoot?: string;
  devRoot?: string;
  run?: CommandRunner;
}

// Codec, ISP and CSI-receiver nodes are V4L2 devices too; none is a camera FFmpeg can read.
// (Pi: bcm2835-codec/-isp, rpivid, pispbe, rp1-cfe, unicam; Jetson: "vi-output, imx219 ...".)
const PLATFORM_NAME =
  /bcm2835-(codec|isp)|rpivid|rpi-hevc|pispbe|rp1-cfe|unicam|codec|encode|decode|-isp\b|^vi-output/i;

/** Lists V4L2 capture cameras, by-id names preferred, metadata and platform nodes left out. */
export async function listCameras(opts: CameraScanOptions = {}): Promise<Camera[]> {
  const sysRoot = opts.sysRoot ?? '/sys';
  const run = opts.run ?? runCommand;
  const classDir = path.join(sysRoot, 'class/video4linux');
  const nodes = (await readdir(classDir).catch(() => [] as string[]))
    .filter((n) => /^video\d+$/.test(n))
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  const byId = await byIdLinks(opts.devRoot ?? '/dev');
  const cameras: Camera[] = [];
  for (const node of nodes) {
    const nodeDir = path.join(classDir, node);
    const name = (await readFile(path.join(nodeDir, 'name'), 'utf8').catch(() => node)).trim();
    const usbInterface = await realpath(path.join(nodeDir, 'device')).catch(() => undefined);
    const isUsb = usbInterface?.includes('/usb') ?? false;
    // The Pi kernel pins its codec/ISP nodes to video10-31; a USB camera there is still a camera.
    const num = Number(node.slice(5));
    if (!isUsb && (PLATFORM_NAME.test(name) || (num >= 10 && num <= 31))) continue;
    const device = `/dev/${node}`;
    const info = await v4l2(run, ['-D', '-d', device]).then(parseDeviceInfo, () => undefined);
    if (info) {
      if (!isVideoCapture(info)) continue;
    } else if ((await readFile(path.join(nodeDir, 'index'), 'utf8').catch(() => '0')).trim() !== '0') {
      // No v4l2-ctl: a UVC camera's metadata node is its second node (index 1).
      continue;
    }
    const formats = info ? await v4l2(run, ['--list-formats-ext', '-d', device]).then(parseFormats, () => []) : [];
    if (info && formats.length === 0) continue;
    const camera: Camera = { device, name: info?.card ?? name, formats };
    const link = byId.get(node);
    if (link) camera.byId = link;
    if (info?.driver) camera.driver = info.driver;
    const uvc = isUsb && usbInterface ? await uvcVersionOf(path.dirname(usbInterface)) : undefined;
    if (uvc) camera.uvcVersion = uvc;
    cameras.push(camera);
  }
  return cameras;
}

function isVideoCapture(info: DeviceInfo): boolean {
  return info.deviceCaps.includes('Video Capture');
}

async function v4l2(run: CommandRunner, args: string[]): Promise<string> {
  const r = await run('v4l2-ctl', args, { timeoutMs: 5000 });
  if (r.code !== 0) throw new Error(`v4l2-ctl ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** node name (video0) → its /dev/v4l/by-id link; the `-index0` link is the capture node. */
async function byIdLinks(devRoot: string): Promise<Map<string, string>> {
  const dir = path.join(devRoot, 'v4l/by-id');
  const map = new Map<string, string>();
  const links = (await readdir(dir).catch(() => [] as string[])).sort();
  for (const link of links) {
    const target = await readlink(path.join(dir, link)).catch(() => undefined);
    const node = target ? path.basename(target) : undefined;
    if (node && !map.has(node)) map.set(node, `/dev/v4l/by-id/${link}`);
  }
  return map;
}

/** bcdUVC of the USB device at `usbDeviceDir`, from its raw `descriptors` file in sysfs. */
export async function uvcVersionOf(usbDeviceDir: string): Promise<string | undefined> {
  const raw = await readFile(path.join(usbDeviceDir, 'descriptors')).catch(() => undefined);
  return raw ? parseUvcVersion(raw) : undefined;
}

/** Finds the VideoControl interface header (CS_INTERFACE, VC_HEADER) and reads bcdUVC. */
export function parseUvcVersion(raw: Buffer): string | undefined {
  let videoControl = false;
  for (let i = 0; i + 2 <= raw.length;) {
    const len = raw[i] ?? 0;
    if (len < 2) break;
    const type = raw[i + 1];
    if (type === 0x04)
      videoControl = raw[i + 5] === 0x0e && raw[i + 6] === 0x01; // interface: video class, control subclass
    else if (type === 0x24 && videoControl && raw[i + 2] === 0x01 && i + 5 <= raw.length) {
      const bcd = raw.readUInt16LE(i + 3);
      return `${(bcd >> 8).toString(16)}.${(bcd & 0xff).toString(16).padStart(2, '0')}`;
    }
    i += len;
  }
  return undefined;
}

/** The input format FFmpeg's v4l2 demuxer wants for a V4L2 fourcc. */
export const FFMPEG_INPUT_FORMAT: Record<string, string> = {
  H264: 'h264',
  MJPG: 'mjpeg',
  JPEG: 'mjpeg',
  YUYV: 'yuyv422',
  UYVY: 'uyvy422',
  NV12: 'nv12',
  YU12: 'yuv420p',
};

/** What to ask a camera for. */
export interface V4l2Choice {
  fourcc: string;
  /** FFmpeg's `-input_format` name. */
  inputFormat: string;
  width: number;
  height: number;
  fps: number;
}

/**
 * The best format, size and rate a camera offers for `spec`: camera H.264 first (only from UVC
 * 1.1+ cameras: older firmware's H.264 is unreliable), then MJPEG before YUYV at 720p and above
 * (YUYV at 720p30 needs more than USB 2 carries, so cameras drop to 10 fps); the smallest size
 * at least as big as wanted with a rate at least as high.
 */
export function chooseV4l2Format(camera: Camera, spec: CaptureSpec): V4l2Choice | undefined {
  const big = spec.width >= 1280 || spec.height >= 720;
  const h264 = camera.uvcVersion !== undefined && Number(camera.uvcVersion) >= 1.1 ? ['H264'] : [];
  const order = [...h264, ...(big ? ['MJPG', 'YUYV'] : ['YUYV', 'MJPG']), 'JPEG', 'NV12', 'YU12', 'UYVY'];
  const usable = order
    .map((fourcc) => camera.formats.find((f) => f.fourcc === fourcc))
    .filter((f): f is CameraFormat => f !== undefined);
  const area = (s: { width: number; height: number }): number => s.width * s.height;
  const fast = (fps: number[]): number | undefined => fps.filter((r) => r >= spec.fps).sort((a, b) => a - b)[0];
  // Tier 1: big enough and fast enough; 2: fast enough (largest); 3: anything (largest, fastest).
  const tiers: Array<(f: CameraFormat) => V4l2Choice | undefined> = [
    (f) =>
      pick(
        f,
        f.sizes.filter((s) => s.width >= spec.width && s.height >= spec.height && fast(s.fps) !== undefined),
        (a, b) => area(a) - area(b),
        fast,
      ),
    (f) =>
      pick(
        f,
        f.sizes.filter((s) => fast(s.fps) !== undefined),
        (a, b) => area(b) - area(a),
        fast,
      ),
    (f) =>
      pick(
        f,
        f.sizes,
        (a, b) => area(b) - area(a),
        (fps) => fps[0] ?? spec.fps,
      ),
  ];
  for (const tier of tiers) {
    for (const format of usable) {
      const choice = tier(format);
      if (choice) return choice;
    }
  }
  return undefined;
}

function pick(
  format: CameraFormat,
  sizes: CameraFormat['sizes'],
  order: (a: CameraFormat['sizes'][number], b: CameraFormat['sizes'][number]) => number,
  rate: (fps: number[]) => number | undefined,
): V4l2Choice | undefined {
  const size = [...sizes].sort(order)[0];
  const fps = size ? rate(size.fps) : undefined;
  if (!size || fps === undefined) return undefined;
  const inputFormat = FFMPEG_INPUT_FORMAT[format.fourcc] ?? format.fourcc.toLowerCase();
  return { fourcc: format.fourcc, inputFormat, width: size.width, height: size.height, fps };
}

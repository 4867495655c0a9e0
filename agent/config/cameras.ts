/** The `cameras` list: its default, the check of each entry, and where frames may come from. */
import type { AnalysisCostConfig, CameraConfig } from './types.js';
import {
  type Check,
  bool,
  got,
  intRange,
  isPlainObject,
  isUrlWithHost,
  keyName,
  numberRange,
  oneOf,
  problem,
} from './checks.js';

/** What a fresh machine gets: one camera, picked automatically (USB if any, else the test pattern). */
export const DEFAULT_CAMERAS: readonly CameraConfig[] = [
  { id: 'cam1', source: 'auto', width: 1280, height: 720, fps: 30 },
];

/** The keys one camera entry must have (the default camera fills all but id), in the order the contract lists them. */
export const CAMERA_KEYS = ['id', 'source', 'width', 'height', 'fps'] as const;

/** Keys a camera entry may add: its own analysis cost levers. */
export const OPTIONAL_CAMERA_KEYS = ['analysis'] as const;

/**
 * The checks of the analysis cost levers, shared by the global `analysis.*` keys and a camera's
 * `analysis` overrides. Gemini accepts `videoMetadata.fps` in (0, 24]; a signature has 256 comparisons.
 */
export const ANALYSIS_COST_CHECKS: Record<keyof AnalysisCostConfig, Check> = {
  fps: numberRange(0, 24, { aboveMin: true }),
  resolution: oneOf(['low', 'medium', 'high']),
  skipDuplicates: bool,
  duplicateMotion: numberRange(0, 1),
  duplicateDistance: intRange(0, 256),
};

function checkCameraAnalysis(value: unknown, key: string): string[] {
  const keys = Object.keys(ANALYSIS_COST_CHECKS);
  if (!isPlainObject(value)) return [problem(key, `an object with some of ${keys.join(', ')}`, value)];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const check = Object.hasOwn(ANALYSIS_COST_CHECKS, k)
      ? ANALYSIS_COST_CHECKS[k as keyof AnalysisCostConfig]
      : undefined;
    if (check) out.push(...check(v, `${key}.${k}`));
    else out.push(`${keyName([k], key)} is not a known key; a camera's analysis has ${keys.join(', ')}`);
  }
  return out;
}

/** At most this many cameras: each is a full FFmpeg encode, and no supported board runs more. */
export const MAX_CAMERAS = 8;

// The id names a directory and an MQTT topic level: keep it to safe characters and short.
const CAMERA_ID = /^[a-z0-9][a-z0-9_-]{0,31}$/i;

const SOURCE_ALLOWED =
  'auto, test, v4l2:/dev/<device>, csi, csi:<n>, or an rtsp://, rtsps://, http://, https:// or file: url';

/** True for a `cameras[].source` the capture layer knows how to open. */
export function isValidSource(source: string): boolean {
  if (source === 'auto' || source === 'test' || source === 'csi') return true;
  // Libcamera and Argus number their sensors from 0; no board has more than a handful.
  if (/^csi:\d{1,2}$/.test(source)) return true;
  if (source.startsWith('v4l2:')) {
    const dev = source.slice('v4l2:'.length);
    // Only device nodes: a path elsewhere would let a config point FFmpeg at an arbitrary file.
    return /^\/dev\/[^\0\s]+$/.test(dev) && !dev.split('/').includes('..');
  }
  if (source.startsWith('file:')) return /^file:[^\0]+$/.test(source) && source !== 'file://';
  return isUrlWithHost(source, ['rtsp', 'rtsps', 'http', 'https']);
}

function checkCamera(cam: Record<string, unknown>, key: string): string[] {
  const out: string[] = [];
  const known: readonly string[] = [...CAMERA_KEYS, ...OPTIONAL_CAMERA_KEYS];
  for (const k of Object.keys(cam)) {
    if (!known.includes(k)) out.push(`${keyName([k], key)} is not a known key; a camera has ${known.join(', ')}`);
  }
  if ('analysis' in cam) out.push(...checkCameraAnalysis(cam.analysis, `${key}.analysis`));
  if (typeof cam.id !== 'string' || !CAMERA_ID.test(cam.id)) {
    out.push(problem(`${key}.id`, '1 to 32 letters, digits, _ or -, starting with a letter or digit', cam.id));
  }
  if (typeof cam.source !== 'string' || !isValidSource(cam.source)) {
    out.push(problem(`${key}.source`, SOURCE_ALLOWED, cam.source));
  }
  // Frame sizes beyond 4096 exceed every H.264 level the supported encoders implement.
  out.push(...intRange(16, 4096, { even: true })(cam.width, `${key}.width`));
  out.push(...intRange(16, 4096, { even: true })(cam.height, `${key}.height`));
  out.push(...intRange(1, 120)(cam.fps, `${key}.fps`));
  return out;
}

/** The capture device a source opens, for sources that hold one exclusively; null for others. */
function deviceOf(source: string): string | null {
  if (source === 'auto') return 'auto';
  if (source === 'csi') return 'csi:0';
  if (/^csi:\d+$/.test(source)) return `csi:${Number(source.slice(4))}`;
  if (source.startsWith('v4l2:')) return source;
  // The test pattern and URLs can be opened any number of times.
  return null;
}

/** `cameras`: 1 to MAX_CAMERAS entries, each complete and valid, ids unique ignoring case. */
export const camerasCheck: Check = (value, key) => {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_CAMERAS) {
    return [problem(key, `a list of 1 to ${MAX_CAMERAS} cameras like ${JSON.stringify(DEFAULT_CAMERAS[0])}`, value)];
  }
  const out: string[] = [];
  // Ids are compared ignoring case: archives may live on an exFAT USB stick, where cam1 and CAM1
  // are the same directory.
  const seen = new Set<string>();
  const devices = new Map<string, number>();
  value.forEach((cam, i) => {
    const at = `${key}[${i}]`;
    if (!isPlainObject(cam)) {
      out.push(problem(at, 'a camera object with id, source, width, height and fps', cam));
      return;
    }
    out.push(...checkCamera(cam, at));
    if (typeof cam.id === 'string') {
      const folded = cam.id.toLowerCase();
      if (seen.has(folded)) out.push(`${at}.id must be unique among cameras (ignoring case), got ${got(cam.id)} again`);
      seen.add(folded);
    }
    const device = typeof cam.source === 'string' ? deviceOf(cam.source) : null;
    if (device !== null) {
      const first = devices.get(device);
      if (first !== undefined) {
        out.push(
          `${at}.source must not open the same device as cameras[${first}] (a capture device serves one reader), got ${got(cam.source)}`,
        );
      } else devices.set(device, i);
    }
  });
  return out;
};

/**
 * Fills what a camera entry leaves out (source, size, rate) from the default camera, so
 * `{"id": "door", "source": "v4l2:/dev/video0"}` is enough. The id is never invented: two
 * generated ids could collide with written ones.
 */
export function withCameraDefaults(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  const base = DEFAULT_CAMERAS[0]!;
  return value.map((cam) => {
    if (!isPlainObject(cam)) return cam;
    // Rebuilt in the contract's key order so `config print` reads the same whatever the source.
    const filled: Record<string, unknown> = {};
    for (const k of CAMERA_KEYS) {
      if (k in cam) filled[k] = cam[k];
      else if (k !== 'id') filled[k] = base[k];
    }
    for (const k of Object.keys(cam)) if (!(k in filled)) filled[k] = cam[k];
    return filled;
  });
}

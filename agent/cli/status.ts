/**
 * `edge-agent status [--config FILE]`: asks the running agent over its local HTTP API and prints
 * a summary a technician reads at a glance. Exit 0 when the agent answered, 1 when it did not.
 */
import { loadConfig, loadCredentials, resolveConfigPath } from '../config/load.js';
import type { CliOptions } from './options.js';

/** One camera as /api/status lists it (agent/contract/services.ts CameraStats). */
interface CameraLine {
  camera: string;
  state: string;
  encoder: string | null;
  source?: string;
  fps: number;
  droppedFrames?: number;
  restarts: number;
  lastFrameAgeSeconds: number | null;
  lastError?: string | null;
}

/** The parts of /api/status the summary reads; everything is optional so an older agent still prints. */
export interface StatusBody {
  device?: string | { id?: string };
  version?: string;
  uptime?: number;
  uptimeSeconds?: number;
  startedAt?: string;
  mqtt?:
    | { connected?: boolean; url?: string | null; state?: string; failures?: number; lastError?: string | null }
    | string
    | null;
  cameras?: CameraLine[];
  disk?: { path?: string; totalBytes: number; freeBytes: number; freePercent?: number } | null;
  health?: { process?: { uptimeSeconds?: number } } | null;
}

/** "3d 4h", "2h 05m", "41 s": uptime at a glance. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s} s`;
}

function uptimeOf(body: StatusBody, now: number): number | null {
  const direct = body.uptime ?? body.uptimeSeconds ?? body.health?.process?.uptimeSeconds;
  if (typeof direct === 'number') return direct;
  const started = body.startedAt ? Date.parse(body.startedAt) : Number.NaN;
  return Number.isNaN(started) ? null : (now - started) / 1000;
}

function mqttLine(mqtt: StatusBody['mqtt']): string {
  if (mqtt === undefined || mqtt === null) return 'mqtt:    (not reported)';
  if (typeof mqtt === 'string') return `mqtt:    ${mqtt}`;
  const state = mqtt.state ?? (mqtt.connected ? 'connected' : 'disconnected');
  const where = mqtt.url ? ` to ${mqtt.url.replace(/\/\/[^@/]*@/, '//')}` : '';
  const err = !mqtt.connected && mqtt.lastError ? ` — last error: ${mqtt.lastError}` : '';
  return `mqtt:    ${state}${where}${err}`;
}

function diskLine(disk: StatusBody['disk']): string {
  if (!disk) return 'disk:    (not reported)';
  const gb = (n: number) => (n / 1024 ** 3).toFixed(1);
  const pct = disk.freePercent ?? (disk.totalBytes > 0 ? (100 * disk.freeBytes) / disk.totalBytes : 0);
  return `disk:    ${gb(disk.freeBytes)} GB free of ${gb(disk.totalBytes)} GB (${pct.toFixed(0)} %)${disk.path ? ` at ${disk.path}` : ''}`;
}

function cameraLines(cameras: CameraLine[] | undefined): string[] {
  if (!cameras || cameras.length === 0) return ['cameras: none running'];
  const w = Math.max(...cameras.map((c) => c.camera.length));
  return [
    'cameras:',
    ...cameras.map((c) => {
      const age =
        c.lastFrameAgeSeconds === null ? 'no frame yet' : `last frame ${c.lastFrameAgeSeconds.toFixed(1)} s ago`;
      const err = c.state !== 'running' && c.lastError ? `  (${c.lastError.split('\n')[0]})` : '';
      return `  ${c.camera.padEnd(w)}  ${c.state.padEnd(10)} ${(c.encoder ?? '-').padEnd(14)} ${c.fps.toFixed(1).padStart(5)} fps  ${c.restarts} restart(s)  ${age}${err}`;
    }),
  ];
}

/** The human summary of one /api/status body. */
export function formatStatus(body: StatusBody, now = Date.now()): string {
  const device = typeof body.device === 'string' ? body.device : (body.device?.id ?? '(unknown device)');
  const up = uptimeOf(body, now);
  const head = `edge-agent ${device}, version ${body.version ?? '?'}, up ${up === null ? '?' : formatDuration(up)}`;
  return `${[head, mqttLine(body.mqtt), diskLine(body.disk), ...cameraLines(body.cameras)].join('\n')}\n`;
}

/** http.listen as a URL this machine can reach: a wildcard bind is asked on loopback. */
export function statusUrl(listen: string): string {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen) ?? /^()()(\d+)$/.exec(listen);
  if (!m) return `http://${listen}/api/status`;
  let host = m[1] || m[2] || '127.0.0.1';
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${m[3]}/api/status`;
}

/** What statusCommand needs; tests swap the writers. */
export interface StatusIo {
  out: (text: string) => void;
  err: (text: string) => void;
  fetch: typeof fetch;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
}

const defaultIo = (): StatusIo => ({
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  fetch: globalThis.fetch,
  env: process.env,
  timeoutMs: 5000,
});

/** `edge-agent status`. */
export async function statusCommand(options: CliOptions, io: StatusIo = defaultIo()): Promise<number> {
  let listen = '127.0.0.1:8080';
  let token: string | null = null;
  try {
    const { config } = loadConfig({ file: resolveConfigPath(options.config, io.env), sets: options.set, env: io.env });
    listen = config.http.listen;
    // The token only matters off loopback; a secret we cannot read (not root) should not stop a loopback query.
    if (config.http.tokenFile) token = loadCredentials(config, io.env).httpToken;
  } catch (error) {
    io.err(`edge-agent status: config: ${(error as Error).message.split('\n')[0]}; trying ${listen}\n`);
  }
  const url = statusUrl(listen);
  let res: Response;
  try {
    res = await io.fetch(url, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(io.timeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    io.err(
      `edge-agent status: no agent answering at ${url} (${cause}).\n` +
        'Is it running? sudo systemctl status edge-agent; journalctl -u edge-agent -b | tail -50\n',
    );
    return 1;
  }
  if (res.status === 401 || res.status === 403) {
    io.err(`edge-agent status: the agent at ${url} refused the request (HTTP ${res.status}): check http.tokenFile\n`);
    return 1;
  }
  if (!res.ok) {
    io.err(`edge-agent status: ${url} answered HTTP ${res.status}\n`);
    return 1;
  }
  io.out(formatStatus((await res.json()) as StatusBody));
  return 0;
}

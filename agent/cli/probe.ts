/**
 * `edge-agent probe [--json]`: the cameras this board has and every H.264 encoder it might
 * have, each proven by a real test encode. The MQTT `probe` command returns the same report.
 */
import path from 'node:path';
import { detectBoard, hostRoot } from '../../device/board.js';
import { listCameras, type Camera } from '../../device/cameras.js';
import { chooseEncoders, listedH264Encoders, preferredLadder } from '../../device/encoders/index.js';
import { runCommand, type CommandRunner } from '../util/run.js';
import type { BoardInfo, EncodeSettings, EncoderCandidate } from '../../device/types.js';
import { encodeSettings } from '../config/encodeSettings.js';
import type { AgentConfig } from '../config/types.js';
import type { CliOptions } from './options.js';

/** One encoder's verdict as the report shows it. */
export interface ProbeEncoderEntry {
  name: string;
  where: EncoderCandidate['where'];
  works: boolean;
  reason?: string;
}

/** What `edge-agent probe --json` prints and the MQTT `probe` command returns. */
export interface ProbeReport {
  board: BoardInfo;
  cameras: Camera[];
  encoders: ProbeEncoderEntry[];
}

/** What the report may be told; every field has a default that reads the real machine. */
export interface ProbeReportOptions {
  /** Size, rate, bitrate, keyframe spacing and `encoder.prefer` come from here when given. */
  config?: AgentConfig;
  /** Root of /proc, /sys, /dev and /etc (a fixture tree in tests). */
  root?: string;
  run?: CommandRunner;
  /** Verdict cache to reuse (the agent's); the CLI passes none so a technician sees the truth now. */
  cacheFile?: string;
}

/** Settings used when there is no config: the contract's defaults. */
export const DEFAULT_PROBE_SETTINGS: EncodeSettings = encodeSettings({
  encoder: { bitrateKbps: 2500 },
  hls: { segmentSeconds: 1 },
});

/** Builds the probe report: board, cameras, and a verdict for every H.264 encoder. */
export async function probeReport(opts: ProbeReportOptions = {}): Promise<ProbeReport> {
  const root = opts.root ?? hostRoot();
  const run = opts.run ?? runCommand;
  const sysRoot = path.join(root, 'sys');
  const devRoot = path.join(root, 'dev');
  const board = await detectBoard(root);
  const settings = probeSettings(opts.config);
  const [cameras, listed] = await Promise.all([
    listCameras({ sysRoot, devRoot, run }).catch(() => [] as Camera[]),
    listedH264Encoders(run),
  ]);
  // The board's ladder first (in its order), then whatever else this FFmpeg lists: every
  // listed encoder gets its verdict, since `ffmpeg -encoders` lists ones that cannot work.
  const ladder = preferredLadder(board, opts.config?.encoder.prefer ?? 'auto');
  const extra = listed
    .filter((name) => !ladder.some((c) => c.name === name))
    .map((name): EncoderCandidate => ({ name, where: 'ffmpeg' }));
  const candidates = [
    ...ladder.filter((c) => c.name !== 'libx264'),
    ...extra,
    { name: 'libx264', where: 'ffmpeg' as const },
  ];
  const { verdicts } = await chooseEncoders(candidates, settings, board, {
    run,
    sysRoot,
    devRoot,
    ...(opts.cacheFile ? { cacheFile: opts.cacheFile } : {}),
  });
  const encoders = verdicts.map(({ name, where, works, reason }) => ({
    name,
    where,
    works,
    ...(reason ? { reason } : {}),
  }));
  return { board, cameras, encoders };
}

/** What the encoders are tested at: the first camera's size and rate, the configured bitrate and keyframe spacing. */
export function probeSettings(config: AgentConfig | undefined): EncodeSettings {
  return config ? encodeSettings(config, config.cameras[0]) : DEFAULT_PROBE_SETTINGS;
}

/** The report as a technician reads it. */
export function formatProbeReport(report: ProbeReport, s: EncodeSettings): string {
  const { board } = report;
  const lines = [
    `board: ${board.model} (${board.family}), kernel ${board.kernel}${board.l4t ? `, L4T ${board.l4t}` : ''}`,
    '',
    'cameras:',
  ];
  if (!report.cameras.length) lines.push('  none found (source auto uses the test pattern)');
  for (const cam of report.cameras) {
    const extras = [cam.driver, cam.uvcVersion ? `UVC ${cam.uvcVersion}` : undefined].filter(Boolean).join(', ');
    lines.push(`  ${cam.device}  ${cam.name}${extras ? ` [${extras}]` : ''}`);
    if (cam.byId) lines.push(`    ${cam.byId}`);
    if (!cam.formats.length) lines.push('    formats unknown (is v4l2-ctl installed? apt-get install v4l-utils)');
    for (const f of cam.formats) {
      lines.push(`    ${f.fourcc}: ${f.sizes.map((z) => `${z.width}x${z.height}@${z.fps.join('/')}`).join('  ')}`);
    }
  }
  lines.push(
    '',
    `H.264 encoders (test encode at ${s.width}x${s.height}@${s.fps}, ${s.bitrateKbps} kb/s, keyframe every ${s.keyframeSeconds} s):`,
  );
  const width = Math.max(...report.encoders.map((e) => e.name.length));
  for (const e of report.encoders) {
    const where = e.where === 'producer' ? 'in the capture producer' : 'in ffmpeg';
    lines.push(
      `  ${e.works ? 'works  ' : 'no     '}${e.name.padEnd(width)}  ${where}${e.reason ? `: ${e.reason}` : ''}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Loads the config when there is one; a broken config must not stop a probe (defaults, with a warning). */
async function configFor(options: CliOptions): Promise<AgentConfig | undefined> {
  try {
    const { loadConfig, resolveConfigPath } = await import('../config/load.js');
    return loadConfig({ file: resolveConfigPath(options.config), sets: options.set }).config;
  } catch (error) {
    process.stderr.write(
      `edge-agent probe: config not used (${(error as Error).message.split('\n')[0]}); testing at 1280x720@30, 2500 kb/s\n`,
    );
    return undefined;
  }
}

/** `edge-agent probe [--json]`: prints the report; exit 0 (a board without cameras or hardware encoders is still a fact). */
export async function probeCommand(options: CliOptions): Promise<number> {
  const config = await configFor(options);
  const report = await probeReport(config ? { config } : {});
  if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(formatProbeReport(report, probeSettings(config)));
  return 0;
}

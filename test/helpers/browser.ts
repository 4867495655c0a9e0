/** What the headless-Chromium tests share: Debian's browser, its flags, and a test-side poll. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from './waitFor.js';

/** Debian's Chromium (apt-get install chromium): test/setup-machine.sh installs it. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * As root Chromium needs --no-sandbox, and without the background-networking flags it hammers
 * this machine's closed network at every start; video plays without a click.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

/** Whether FFmpeg runs here (the tests' cameras and clips need it). */
export function hasFfmpeg(): boolean {
  try {
    execFileSync('ffmpeg', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why a browser test cannot run here (no Chromium, or no FFmpeg for the camera), or null. */
export function browserTestBlocked(): string | null {
  if (!existsSync(CHROMIUM))
    return `${CHROMIUM} missing: install Debian's chromium (apt-get install -y chromium) to run the browser test`;
  return hasFfmpeg() ? null : 'ffmpeg missing: install it (apt-get install -y ffmpeg) to run the browser test';
}

/**
 * What the page shows, made by FFmpeg as the agent makes it, under `dir`: a finished 4-s archive
 * (H.264 MP4, fast start) of camera cam1 and its folders.
 */
export async function pageMedia(dir: string): Promise<{ hlsRoot: string; archiveRoot: string; archive: string }> {
  const hlsRoot = join(dir, 'hls');
  const archiveRoot = join(dir, 'archive');
  const day = join(archiveRoot, 'cam1', '2026-11-01');
  await mkdir(join(hlsRoot, 'cam1'), { recursive: true });
  await mkdir(day, { recursive: true });
  const archive = join(day, 'archive_20261101T100000Z.mp4');
  execFileSync('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=320x240:rate=15',
    '-t',
    '4',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    '-movflags',
    '+faststart',
    archive,
  ]);
  return { hlsRoot, archiveRoot, archive };
}

/** A live cam1 stream in `hlsRoot` with 1-s segments in real time, as the pipeline makes it; resolves once two are listed. */
export async function startLiveHls(hlsRoot: string): Promise<ChildProcess> {
  const playlist = join(hlsRoot, 'cam1', 'index.m3u8');
  const child = spawn(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=320x240:rate=15,realtime',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-tune',
      'zerolatency',
      '-pix_fmt',
      'yuv420p',
      '-force_key_frames',
      'expr:gte(t,n_forced*1)',
      '-sc_threshold',
      '0',
      '-f',
      'hls',
      '-hls_time',
      '1',
      '-hls_list_size',
      '6',
      '-hls_flags',
      'delete_segments+temp_file',
      playlist,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await waitFor(
    'the live playlist has two segments',
    async () => ((await readFile(playlist, 'utf8').catch(() => '')).match(/#EXTINF/g) ?? []).length >= 2,
    15000,
  );
  return child;
}

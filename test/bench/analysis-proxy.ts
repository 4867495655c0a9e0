/**
 * The analysis upload per archive: makes a synthetic 720p30 archive with the pipeline's
 * settings (libx264 ultrafast, 2500 kb/s, 1-s keyframes, fast start), runs the proxy, prints
 * archive bytes, proxy bytes, the ratio (target ≤ 10 %) and the proxy's CPU seconds.
 *
 *   node --import tsx test/bench/analysis-proxy.ts [seconds=600] [source=testsrc2]
 *
 * A shorter run (e.g. 60) prints the measured figures and scales them to 10 minutes (both
 * sizes and CPU grow linearly with length at constant bitrate and frame rate).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { makeProxy } from '../../agent/analysis/proxy.js';

const run = promisify(execFile);
const seconds = Number(process.argv[2] ?? 600);
const source = process.argv[3] ?? 'testsrc2';

const dir = await mkdtemp(path.join(tmpdir(), 'analysis-proxy-bench-'));
try {
  const archive = path.join(dir, 'archive.mp4');
  const t0 = Date.now();
  await run('ffmpeg', [
    '-v',
    'error',
    '-nostdin',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `${source}=s=1280x720:r=30`,
    '-t',
    String(seconds),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-b:v',
    '2500k',
    '-maxrate',
    '2500k',
    '-bufsize',
    '5000k',
    '-force_key_frames',
    'expr:gte(t,n_forced*1)',
    '-sc_threshold',
    '0',
    '-pix_fmt',
    'yuv420p',
    '-movflags',
    '+faststart',
    archive,
  ]);
  const archiveBytes = (await stat(archive)).size;
  console.log(
    `archive: ${seconds} s 1280x720 30 fps ${source}, libx264 ultrafast 2500 kb/s, made in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  const scale = 600 / seconds;
  for (const variant of [
    { name: 'default (480 px, 1 fps, CRF 30, keyframes only)', options: {} },
    { name: 'decode every frame', options: { keyframesOnly: false } },
    { name: '640 px', options: { width: 640 } },
  ]) {
    const started = Date.now();
    const proxy = await makeProxy(archive, dir, 'bench', variant.options);
    const wall = (Date.now() - started) / 1000;
    const ratio = (proxy.bytes / archiveBytes) * 100;
    console.log(`\n${variant.name}`);
    console.log(`  archive bytes   ${archiveBytes}  (per 10 min: ${((archiveBytes * scale) / 1e6).toFixed(1)} MB)`);
    console.log(`  proxy bytes     ${proxy.bytes}  (per 10 min: ${((proxy.bytes * scale) / 1e6).toFixed(2)} MB)`);
    console.log(`  ratio           ${ratio.toFixed(2)} %  (target <= 10 %: ${ratio <= 10 ? 'met' : 'MISSED'})`);
    console.log(
      `  saved           ${(((archiveBytes - proxy.bytes) * scale) / 1e6).toFixed(1)} MB per 10-minute archive`,
    );
    console.log(
      `  proxy CPU       ${proxy.cpuSeconds?.toFixed(2)} s (per 10 min: ${((proxy.cpuSeconds ?? 0) * scale).toFixed(1)} s), wall ${wall.toFixed(1)} s`,
    );
    await proxy.remove();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

import { execFile } from 'node:child_process';
import { open } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Duration of a media file in seconds (ffprobe). */
export async function duration(file: string): Promise<number> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file]);
  return Number.parseFloat(stdout.trim());
}

/** FFmpeg's complaints while decoding the whole file (empty when it decodes cleanly). */
export async function decodeErrors(file: string): Promise<string> {
  // In the demuxer's time base: a variable-rate archive (frames 16-96 ms apart after a stall) has
  // frames closer than its guessed rate, and rounding them onto that rate's ticks made the null
  // muxer report a non-monotonic DTS that the file does not have.
  const { stderr } = await run('ffmpeg', [
    '-v',
    'error',
    '-nostdin',
    '-i',
    file,
    '-enc_time_base:v',
    '-1',
    '-f',
    'null',
    '-',
  ]);
  return stderr.trim();
}

/** Top-level MP4 box types in order (fast start means moov before mdat). */
export async function topLevelBoxes(file: string): Promise<string[]> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const boxes: string[] = [];
    let offset = 0;
    const header = Buffer.alloc(16);
    while (offset + 8 <= size) {
      await handle.read(header, 0, 16, offset);
      let length = header.readUInt32BE(0);
      const type = header.toString('latin1', 4, 8);
      if (length === 1) length = Number(header.readBigUInt64BE(8));
      if (length < 8) break;
      boxes.push(type);
      offset += length;
    }
    return boxes;
  } finally {
    await handle.close();
  }
}

/** Timestamps (s) of the keyframes of a media file. */
export async function keyframeTimes(file: string): Promise<number[]> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v',
    '-show_entries',
    'packet=pts_time,flags',
    '-of',
    'csv=p=0',
    file,
  ]);
  return stdout
    .split('\n')
    .filter((line) => line.includes('K'))
    .map((line) => Number.parseFloat(line.split(',')[0]!));
}

/**
 * Fragmented MP4 as the pipeline's live slave writes it (init first, a fragment per frame), made by
 * real FFmpeg: `seconds` of a 160x120 test pattern at 10 fps with a keyframe every `gop` frames.
 */
export async function liveFmp4(seconds = 2, gop = 5): Promise<Buffer> {
  const { stdout } = await run(
    'ffmpeg',
    [
      '-v',
      'error',
      '-nostdin',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=160x120:rate=10',
      '-t',
      String(seconds),
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-tune',
      'zerolatency',
      '-g',
      String(gop),
      '-pix_fmt',
      'yuv420p',
      '-f',
      'mp4',
      '-movflags',
      'empty_moov+default_base_moof+frag_every_frame+skip_trailer',
      'pipe:1',
    ],
    { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout;
}

import t from 'tap';
import { candidatesForSource, encoderLadder, preferredLadder } from '../../../../device/encoders/ladder.js';
import type { BoardInfo } from '../../../../device/types.js';

const board = (family: BoardInfo['family']): BoardInfo => ({ family, model: family, kernel: '6.1.0' });
const names = (l: { name: string; where: string }[]): string[] => l.map((c) => `${c.name}@${c.where}`);

const ladders: Array<[string, BoardInfo['family'], string[]]> = [
  [
    'Pi 0-4: rpicam-vid encoder, then v4l2m2m, then libx264',
    'pi-legacy',
    ['rpicam-h264@producer', 'h264_v4l2m2m@ffmpeg', 'libx264@ffmpeg'],
  ],
  ['Pi 5 has no encoder: libx264 only', 'pi5', ['libx264@ffmpeg']],
  [
    'Jetson Xavier/Orin NX: nvv4l2h264enc in the producer, then libx264',
    'jetson',
    ['nvv4l2h264enc@producer', 'libx264@ffmpeg'],
  ],
  ['Orin Nano has no NVENC: libx264 only', 'jetson-orin-nano', ['libx264@ffmpeg']],
  [
    'generic x86: nvenc, vaapi, qsv, libx264',
    'generic',
    ['h264_nvenc@ffmpeg', 'h264_vaapi@ffmpeg', 'h264_qsv@ffmpeg', 'libx264@ffmpeg'],
  ],
];
for (const [name, family, want] of ladders) {
  t.test(name, async (t) => {
    const ladder = encoderLadder(board(family));
    t.same(names(ladder), want);
    t.equal(ladder.at(-1)?.name, 'libx264', 'always ends in libx264');
  });
}

const prefers: Array<[string, BoardInfo['family'], 'auto' | string[], string[]]> = [
  [
    'auto is the board ladder',
    'generic',
    'auto',
    ['h264_nvenc@ffmpeg', 'h264_vaapi@ffmpeg', 'h264_qsv@ffmpeg', 'libx264@ffmpeg'],
  ],
  ['a list without libx264 gets it appended', 'pi-legacy', ['h264_v4l2m2m'], ['h264_v4l2m2m@ffmpeg', 'libx264@ffmpeg']],
  [
    'a list keeps its order and libx264 where it is',
    'generic',
    ['libx264', 'h264_vaapi'],
    ['libx264@ffmpeg', 'h264_vaapi@ffmpeg'],
  ],
  [
    'producer encoders are recognised by name',
    'pi-legacy',
    ['rpicam-h264', 'h264_v4l2m2m'],
    ['rpicam-h264@producer', 'h264_v4l2m2m@ffmpeg', 'libx264@ffmpeg'],
  ],
  ['duplicates are dropped', 'generic', ['h264_qsv', 'h264_qsv'], ['h264_qsv@ffmpeg', 'libx264@ffmpeg']],
];
for (const [name, family, prefer, want] of prefers) {
  t.test(name, async (t) => t.same(names(preferredLadder(board(family), prefer)), want));
}

t.test('producer encoders only for csi sources', async (t) => {
  const ladder = encoderLadder(board('pi-legacy'));
  t.same(names(candidatesForSource(ladder, 'csi')), names(ladder));
  t.same(names(candidatesForSource(ladder, 'csi:1')), names(ladder));
  t.same(names(candidatesForSource(ladder, 'v4l2:/dev/video0')), ['h264_v4l2m2m@ffmpeg', 'libx264@ffmpeg']);
  t.same(names(candidatesForSource(ladder, 'auto')), ['h264_v4l2m2m@ffmpeg', 'libx264@ffmpeg']);
});

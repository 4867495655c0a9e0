import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { jpegSize, newestSegment } from '../../../agent/pipeline/snapshot.js';

const run = promisify(execFile);

t.test('newestSegment', async (t) => {
  const live = [
    '#EXTM3U',
    '#EXT-X-VERSION:6',
    '#EXT-X-TARGETDURATION:1',
    '#EXT-X-MEDIA-SEQUENCE:1718000000',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    '#EXT-X-PROGRAM-DATE-TIME:2024-06-10T06:13:20.000+0000',
    '#EXTINF:1.000000,',
    'seg-1718000000.ts',
    '#EXTINF:1.000000,',
    'seg-1718000001.ts',
    '',
  ].join('\n');
  const cases: Array<[string, string, string | null]> = [
    ['a live playlist: the last segment', live, 'seg-1718000001.ts'],
    ['CRLF line ends', live.replace(/\n/g, '\r\n'), 'seg-1718000001.ts'],
    ['a tag after the last segment (endlist) is not a segment', `${live}#EXT-X-ENDLIST\n`, 'seg-1718000001.ts'],
    ['header only, no segment yet', '#EXTM3U\n#EXT-X-VERSION:6\n', null],
    ['empty file', '', null],
    ['no trailing newline', '#EXTM3U\n#EXTINF:1,\nseg-1.ts', 'seg-1.ts'],
  ];
  for (const [name, text, want] of cases) t.test(name, async (t) => t.equal(newestSegment(text), want));
});

/** A hand-built JPEG: SOI, optional segments, then a SOF header. */
function jpeg(parts: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0xd8]), ...parts]);
}
function segment(marker: number, payload: number[]): Buffer {
  const b = Buffer.alloc(4 + payload.length);
  b[0] = 0xff;
  b[1] = marker;
  b.writeUInt16BE(2 + payload.length, 2);
  Buffer.from(payload).copy(b, 4);
  return b;
}
function sof(marker: number, width: number, height: number): Buffer {
  // precision, height, width, components (1), component spec.
  return segment(marker, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, 1, 1, 0x11, 0]);
}
const APP0 = segment(0xe0, [...Buffer.from('JFIF\0'), 1, 1, 0, 0, 1, 0, 1, 0, 0]);
const DQT = segment(0xdb, [0, ...new Array<number>(64).fill(1)]);
const EOI = Buffer.from([0xff, 0xd9]);

t.test('jpegSize on hand-built headers', async (t) => {
  const cases: Array<[string, Buffer, { width: number; height: number } | null]> = [
    ['baseline SOF0 right after SOI', jpeg([sof(0xc0, 640, 480), EOI]), { width: 640, height: 480 }],
    ['SOF0 after APP0 and DQT', jpeg([APP0, DQT, sof(0xc0, 1920, 1080), EOI]), { width: 1920, height: 1080 }],
    ['progressive SOF2', jpeg([APP0, sof(0xc2, 160, 120), EOI]), { width: 160, height: 120 }],
    [
      'DHT (0xC4) is not mistaken for a frame header',
      jpeg([segment(0xc4, [0, ...new Array<number>(16).fill(0)]), sof(0xc0, 32, 16), EOI]),
      { width: 32, height: 16 },
    ],
    ['width and height above 255 use both bytes', jpeg([sof(0xc0, 4056, 3040), EOI]), { width: 4056, height: 3040 }],
    [
      'garbage where a marker should be: null',
      jpeg([Buffer.from([0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa])]),
      null,
    ],
    ['no SOF at all: null', jpeg([APP0, DQT, EOI]), null],
    ['truncated inside the SOF header: null', jpeg([sof(0xc0, 640, 480).subarray(0, 6)]), null],
    ['empty buffer: null', Buffer.alloc(0), null],
  ];
  for (const [name, buffer, want] of cases) t.test(name, async (t) => t.same(jpegSize(buffer), want));
});

t.test('jpegSize on a JPEG that ffmpeg wrote', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'frame.jpg');
  await run('ffmpeg', [
    '-hide_banner',
    '-nostdin',
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=320x176:rate=1',
    '-frames:v',
    '1',
    '-q:v',
    '3',
    '-f',
    'mjpeg',
    file,
  ]);
  t.same(jpegSize(await readFile(file)), { width: 320, height: 176 });
});

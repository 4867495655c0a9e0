import t from 'tap';
import { ProgressParser, type FfmpegProgress } from '../../../agent/pipeline/progress.js';

const BLOCK = [
  'frame=120',
  'fps=29.97',
  'stream_0_0_q=23.0',
  'bitrate=1999.9kbits/s',
  'total_size=1000000',
  'out_time_us=4000000',
  'out_time_ms=4000000',
  'out_time=00:00:04.000000',
  'dup_frames=1',
  'drop_frames=3',
  'speed=1.00x',
  'progress=continue',
  '',
].join('\n');

const PARSED: FfmpegProgress = { frame: 120, fps: 29.97, dropFrames: 3, dupFrames: 1, outTimeSeconds: 4, end: false };

function feed(chunks: string[]): FfmpegProgress[] {
  const parser = new ProgressParser();
  return chunks.flatMap((chunk) => parser.push(chunk));
}

function splitAt(text: string, ...cuts: number[]): string[] {
  const out: string[] = [];
  let from = 0;
  for (const cut of cuts) {
    out.push(text.slice(from, cut));
    from = cut;
  }
  out.push(text.slice(from));
  return out;
}

const cases: Array<[string, string[], FfmpegProgress[]]> = [
  ['one whole block in one chunk', [BLOCK], [PARSED]],
  ['split inside a key', splitAt(BLOCK, 3), [PARSED]],
  ['split right after the =', splitAt(BLOCK, BLOCK.indexOf('=') + 1), [PARSED]],
  ['split inside a value', splitAt(BLOCK, BLOCK.indexOf('29.') + 2), [PARSED]],
  ['split between \\r and \\n of CRLF lines', splitAt(BLOCK.replace(/\n/g, '\r\n'), 10), [PARSED]],
  ['split inside "progress=continue"', splitAt(BLOCK, BLOCK.indexOf('progress=') + 4), [PARSED]],
  ['one byte at a time', [...BLOCK], [PARSED]],
  ['two blocks in one chunk', [BLOCK + BLOCK.replace('frame=120', 'frame=135')], [PARSED, { ...PARSED, frame: 135 }]],
  [
    'the last block says progress=end',
    [BLOCK.replace('progress=continue', 'progress=end')],
    [{ ...PARSED, end: true }],
  ],
  [
    'a block with no fields: every figure is 0',
    ['progress=continue\n'],
    [{ frame: 0, fps: 0, dropFrames: 0, dupFrames: 0, outTimeSeconds: 0, end: false }],
  ],
  [
    'missing and non-numeric fields are 0 (out_time_us=N/A before the first frame)',
    ['frame=0\nfps=0.00\nout_time_us=N/A\nprogress=continue\n'],
    [{ frame: 0, fps: 0, dropFrames: 0, dupFrames: 0, outTimeSeconds: 0, end: false }],
  ],
  [
    'fields do not leak into the next block',
    [`${BLOCK}frame=7\nprogress=continue\n`],
    [PARSED, { frame: 7, fps: 0, dropFrames: 0, dupFrames: 0, outTimeSeconds: 0, end: false }],
  ],
  ['a block without its progress line yields nothing yet', [BLOCK.replace('progress=continue\n', '')], []],
  ['a final line without newline waits for more', [BLOCK.slice(0, -1)], []],
  ['blank lines and lines without = are ignored', ['\n\nnoise\n=5\n' + BLOCK], [PARSED]],
  [
    'spaces around values are trimmed',
    ['frame= 12 \nprogress=continue\n'],
    [{ frame: 12, fps: 0, dropFrames: 0, dupFrames: 0, outTimeSeconds: 0, end: false }],
  ],
];

for (const [name, chunks, want] of cases) {
  t.test(name, async (t) => t.same(feed(chunks), want));
}

t.test('a block split across pushes is returned by the push that completes it', async (t) => {
  const parser = new ProgressParser();
  t.same(parser.push(BLOCK.slice(0, 50)), []);
  t.same(parser.push(BLOCK.slice(50, -2)), []);
  t.same(parser.push(BLOCK.slice(-2)), [PARSED]);
});

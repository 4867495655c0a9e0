import t from 'tap';
import { Fmp4Splitter, startsWithKeyframe, type Fmp4Piece } from '../../../agent/live/fmp4.js';
import { liveFmp4 } from '../../helpers/media.js';

/** The stream fed in reads of `size` bytes, as a pipe might deliver it. */
function split(data: Buffer, size: number): Fmp4Piece[] {
  const splitter = new Fmp4Splitter();
  const out: Fmp4Piece[] = [];
  for (let at = 0; at < data.length; at += size) out.push(...splitter.push(data.subarray(at, at + size)));
  return out;
}

t.test("FFmpeg's fragmented MP4: the init segment, then a fragment per frame, keyframes marked", async (t) => {
  const data = await liveFmp4(2, 5);
  for (const size of [1, 7, 4096, data.length]) {
    t.test(`read ${size} bytes at a time`, async (t) => {
      const pieces = split(data, size);
      t.equal(pieces[0]!.kind, 'init', 'the init segment first');
      t.equal(pieces[0]!.data.toString('latin1', 4, 8), 'ftyp', 'init starts with ftyp');
      t.ok(pieces[0]!.data.includes(Buffer.from('moov')), 'and holds the moov');
      const fragments = pieces.slice(1);
      t.equal(fragments.length, 20, 'a fragment per frame: 2 s at 10 fps');
      t.ok(
        fragments.every((p) => p.kind === 'fragment' && p.data.toString('latin1', 4, 8) === 'moof'),
        'each begins with moof',
      );
      const keys = fragments.map((p, i) => (p.kind === 'fragment' && p.keyframe ? i : -1)).filter((i) => i >= 0);
      t.same(keys, [0, 5, 10, 15], 'a keyframe every 5 frames, the first fragment one');
      t.equal(Buffer.concat(pieces.map((p) => p.data)).length, data.length, 'nothing lost or added');
    });
  }
});

t.test('a stream that is not MP4 is refused, not buffered', async (t) => {
  const splitter = new Fmp4Splitter();
  t.throws(() => splitter.push(Buffer.from('HTTP/1.1 200 OK\r\n\r\n')), /not a fragmented mp4 stream/);
  t.throws(() => new Fmp4Splitter().push(Buffer.from([0, 0, 0, 4, 0x6d, 0x6f, 0x6f, 0x66])), /box of 4 bytes/);
});

t.test('startsWithKeyframe reads the sample flags wherever the muxer put them', async (t) => {
  const u32 = (...values: number[]) =>
    Buffer.concat(
      values.map((v) => {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(v >>> 0);
        return b;
      }),
    );
  const sized = (type: string, body: Buffer) =>
    Buffer.concat([u32(8 + body.length), Buffer.from(type, 'latin1'), body]);
  const moof = (tfhd: Buffer, trun: Buffer) =>
    sized('moof', sized('traf', Buffer.concat([sized('tfhd', tfhd), sized('trun', trun)])));
  const SYNC = 0x02000000; // depends on no other sample
  const NON_SYNC = 0x01010000;
  const cases: Array<[string, Buffer, boolean]> = [
    ['first_sample_flags in trun: sync', moof(u32(0, 1), u32(0x000005, 1, 0, SYNC)), true],
    ['first_sample_flags in trun: not sync', moof(u32(0, 1), u32(0x000005, 1, 0, NON_SYNC)), false],
    [
      'per-sample flags in trun (with duration and size before them)',
      moof(u32(0, 1), u32(0x000701, 1, 0, 33, 900, NON_SYNC)),
      false,
    ],
    ['per-sample flags: sync', moof(u32(0, 1), u32(0x000701, 1, 0, 33, 900, SYNC)), true],
    ['default flags in tfhd only', moof(u32(0x000020, 1, SYNC), u32(0x000001, 1, 0)), true],
    [
      'default flags in tfhd after a default duration',
      moof(u32(0x000028, 1, 33, NON_SYNC), u32(0x000001, 1, 0)),
      false,
    ],
    ['no flags anywhere: not known to be a keyframe', moof(u32(0, 1), u32(0x000001, 1, 0)), false],
    ['no samples: nothing to start on', moof(u32(0, 1), u32(0x000004, 0, SYNC)), false],
  ];
  for (const [name, data, want] of cases) t.equal(startsWithKeyframe(data), want, name);
});

import t from 'tap';
import { contentTypeFor, isInside, parseRange, safeSegments } from '../../../agent/http/files.js';

const rangeCases: Array<[string, string | undefined, number, ReturnType<typeof parseRange>]> = [
  ['no header: whole file', undefined, 100, null],
  ['first bytes', 'bytes=0-9', 100, { start: 0, end: 9 }],
  ['open-ended', 'bytes=90-', 100, { start: 90, end: 99 }],
  ['suffix', 'bytes=-10', 100, { start: 90, end: 99 }],
  ['suffix longer than the file', 'bytes=-500', 100, { start: 0, end: 99 }],
  ['end past the file is clipped', 'bytes=50-500', 100, { start: 50, end: 99 }],
  ['start at the size', 'bytes=100-', 100, 'unsatisfiable'],
  ['reversed', 'bytes=9-0', 100, 'unsatisfiable'],
  ['zero-length suffix', 'bytes=-0', 100, 'unsatisfiable'],
  ['any range of an empty file', 'bytes=0-0', 0, 'unsatisfiable'],
  ['multi-range is ignored', 'bytes=0-1,4-5', 100, null],
  ['another unit is ignored', 'items=0-1', 100, null],
  ['bare dash is ignored', 'bytes=-', 100, null],
];
for (const [name, header, size, want] of rangeCases) {
  t.test(`parseRange: ${name}`, async (t) => t.same(parseRange(header, size), want));
}

const segmentCases: Array<[string, string, string[] | null]> = [
  ['a playlist', 'cam1/index.m3u8', ['cam1', 'index.m3u8']],
  [
    'an archive',
    'cam1/2026-11-01/archive_20261101T100000Z.mp4',
    ['cam1', '2026-11-01', 'archive_20261101T100000Z.mp4'],
  ],
  ['harmless escapes are decoded', 'cam%31/index.m3u8', ['cam1', 'index.m3u8']],
  ['dot-dot', 'cam1/../x', null],
  ['encoded dot-dot', 'cam1/%2e%2e/x', null],
  ['encoded slash', 'cam1%2Fx', null],
  ['backslash', 'cam1\\x', null],
  ['absolute', '/etc/passwd', null],
  ['empty segment', 'cam1//x', null],
  ['hidden', 'cam1/.env', null],
  ['bad escape', 'cam1/%zz', null],
  ['space', 'cam1/a%20b', null],
  ['empty', '', null],
];
for (const [name, raw, want] of segmentCases) {
  t.test(`safeSegments: ${name}`, async (t) => t.same(safeSegments(raw), want));
}

t.test('isInside and contentTypeFor', async (t) => {
  t.ok(isInside('/a/b', '/a/b/c'));
  t.ok(isInside('/a/b', '/a/b'));
  t.notOk(isInside('/a/b', '/a/bc'), 'a sibling with a common prefix is outside');
  t.equal(contentTypeFor('x.M3U8'), 'application/vnd.apple.mpegurl');
  t.equal(contentTypeFor('x.m4s'), 'video/iso.segment');
  t.equal(contentTypeFor('x.bin'), 'application/octet-stream');
});

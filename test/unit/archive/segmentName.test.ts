import t from 'tap';
import {
  archiveFileName,
  boundaryAtOrBefore,
  dateFolder,
  parseArchiveFileName,
  utcStamp,
} from '../../../agent/archive/segmentName.js';

const MS = (iso: string): number => Date.parse(iso);

t.test('utcStamp', async (t) => {
  const cases: Array<[string, number, string]> = [
    ['a whole second', MS('2024-06-10T06:10:00Z'), '20240610T061000Z'],
    ['milliseconds are dropped, not rounded', MS('2024-06-10T06:10:00.999Z'), '20240610T061000Z'],
    ['single digits padded', MS('2024-01-02T03:04:05Z'), '20240102T030405Z'],
    ['last second of the year', MS('2023-12-31T23:59:59.500Z'), '20231231T235959Z'],
    ['the epoch (an RTC-less board before NTP)', 0, '19700101T000000Z'],
  ];
  for (const [name, ms, want] of cases) t.test(name, async (t) => t.equal(utcStamp(ms), want));
});

t.test('dateFolder', async (t) => {
  const cases: Array<[string, number, string]> = [
    ['midday', MS('2024-06-10T12:00:00Z'), '2024-06-10'],
    ['UTC midnight starts the new day', MS('2024-06-11T00:00:00Z'), '2024-06-11'],
    ['1 ms before midnight is still the old day', MS('2024-06-10T23:59:59.999Z'), '2024-06-10'],
    ['leap day', MS('2024-02-29T10:00:00Z'), '2024-02-29'],
  ];
  for (const [name, ms, want] of cases) t.test(name, async (t) => t.equal(dateFolder(ms), want));
});

t.test('archiveFileName', async (t) => {
  const start = MS('2024-06-10T06:10:00Z');
  const cases: Array<[string, number | undefined, string]> = [
    ['first archive for a start time: no suffix', undefined, 'archive_20240610T061000Z.mp4'],
    ['duplicate 0 is the same as none', 0, 'archive_20240610T061000Z.mp4'],
    ['a clock stepped back: -1', 1, 'archive_20240610T061000Z-1.mp4'],
    ['a third archive for the same second: -2', 2, 'archive_20240610T061000Z-2.mp4'],
    ['two-digit duplicates', 12, 'archive_20240610T061000Z-12.mp4'],
  ];
  for (const [name, duplicate, want] of cases)
    t.test(name, async (t) => t.equal(archiveFileName(start, duplicate), want));
});

t.test('parseArchiveFileName', async (t) => {
  const cases: Array<[string, string, number | null]> = [
    ['a plain archive name', 'archive_20240610T061000Z.mp4', MS('2024-06-10T06:10:00Z')],
    ['a -1 duplicate has the same start', 'archive_20240610T061000Z-1.mp4', MS('2024-06-10T06:10:00Z')],
    ['a -10 duplicate', 'archive_20240610T061000Z-10.mp4', MS('2024-06-10T06:10:00Z')],
    ['the sidecar is not an archive', 'archive_20240610T061000Z.json', null],
    ['the analysis file is not an archive', 'archive_20240610T061000Z.analysis.json', null],
    ['a temp file being finished is not an archive', '.archive_20240610T061000Z.mp4.part', null],
    ['a partial recording is not an archive', 'rec-20240610T061000Z.ts', null],
    ['missing Z', 'archive_20240610T061000.mp4', null],
    ['a short stamp', 'archive_2024061T061000Z.mp4', null],
    ['an empty duplicate suffix', 'archive_20240610T061000Z-.mp4', null],
    ['a non-numeric suffix', 'archive_20240610T061000Z-a.mp4', null],
    ['a path, not a name', 'cam0/2024-06-10/archive_20240610T061000Z.mp4', null],
    ['upper-case extension', 'archive_20240610T061000Z.MP4', null],
  ];
  for (const [name, file, want] of cases) t.test(name, async (t) => t.equal(parseArchiveFileName(file), want));

  t.test('round trip with archiveFileName', async (t) => {
    for (const ms of [0, MS('2024-02-29T23:59:59Z'), MS('2038-01-19T03:14:08Z')]) {
      for (const dup of [0, 1, 7]) t.equal(parseArchiveFileName(archiveFileName(ms, dup)), ms);
    }
  });
});

t.test('boundaryAtOrBefore', async (t) => {
  const base = MS('2024-06-10T06:10:00Z');
  const cases: Array<[string, number, number, number]> = [
    ['exactly on a 10-minute boundary: itself', base, 600, base],
    ['1 ms before a boundary: the previous one', base - 1, 600, base - 600_000],
    ['1 ms after a boundary: that boundary', base + 1, 600, base],
    ['in the middle of a segment', base + 299_999, 600, base],
    ['5-s segments (tests)', base + 7_300, 5, base + 5_000],
    ['1 ms before a 5-s boundary', base + 4_999, 5, base],
    ['one-hour segments, exactly on the hour', MS('2024-06-10T06:00:00Z'), 3600, MS('2024-06-10T06:00:00Z')],
    ['one-hour segments, 1 ms before the hour', MS('2024-06-10T05:59:59.999Z'), 3600, MS('2024-06-10T05:00:00Z')],
    ['one-day segments: UTC midnight', MS('2024-06-10T23:59:59.999Z'), 86_400, MS('2024-06-10T00:00:00Z')],
    [
      'a week-long segment length: multiples of it from the epoch',
      MS('2024-06-10T12:00:00Z'),
      604_800,
      Math.floor(MS('2024-06-10T12:00:00Z') / 604_800_000) * 604_800_000,
    ],
    ['the epoch itself', 0, 600, 0],
  ];
  for (const [name, ms, seconds, want] of cases)
    t.test(name, async (t) => t.equal(boundaryAtOrBefore(ms, seconds), want));
});

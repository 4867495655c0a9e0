import { utimes } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { Retention } from '../../../agent/archive/retention.js';
import { EventBus } from '../../../agent/util/bus.js';
import { silentLogger } from '../../../agent/util/logger.js';

const HOUR = 3_600_000;
const NOW = Date.parse('2024-06-10T12:00:00Z');

// BUG (fails today): retention.ts:48 ages archives by the start time in their file name only. On a
// board without an RTC, footage recorded before NTP synced is named from a stale clock
// (fake-hwclock restores the last shutdown time; its sidecar says clockSynced: false), so the first
// retention pass after the clock steps forward deletes it as "older than maxAgeHours" even though
// it was recorded minutes ago. Issue 3: "a clock jump forward or back never overwrites or loses an
// archive".
t.test('an archive recorded before the clock synced is not aged out by its stale name', async (t) => {
  // The board was off for a week; the archive was recorded just before NTP synced and finished a
  // minute ago by the now-correct clock.
  const staleStart = NOW - 7 * 24 * HOUR;
  const root = t.testdir({
    cam0: {
      '2024-06-03': {
        'archive_20240603T120000Z.mp4': 'x'.repeat(100),
        'archive_20240603T120000Z.json': JSON.stringify({
          start: new Date(staleStart).toISOString(),
          seconds: 600,
          clockSynced: false,
          recovered: false,
        }),
      },
    },
  });
  const file = path.join(root, 'cam0', '2024-06-03', 'archive_20240603T120000Z.mp4');
  await utimes(file, new Date(NOW - 60_000), new Date(NOW - 60_000));
  const retention = new Retention({
    config: () => ({ archive: { dir: root, maxAgeHours: 72, minFreePercent: 0 } }),
    bus: new EventBus(),
    log: silentLogger(),
    now: () => NOW,
    space: async () => ({ totalBytes: 1e6, freeBytes: 1e6 }),
  });
  t.same(await retention.enforce(), [], 'kept: it was recorded a minute ago');
});

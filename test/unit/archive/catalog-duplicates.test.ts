import t from 'tap';
import { DiskArchiveCatalog } from '../../../agent/archive/catalog.js';

// BUG (fails today): catalog.ts:45 (walkArchives) breaks ties between archives of the same start
// second with `a.file.localeCompare(b.file)`. The finisher names them in the order they were made
// (`archive_<stamp>.mp4`, then `-1`, `-2`, … when the clock stepped back), but locale order puts
// `-1` < `-10` < `-2` < `` (no suffix), so list() (newest first) returns the original first and the
// duplicates out of order, and retention (oldest first) deletes the duplicates before the original.
t.test('duplicates of one start second are listed newest (highest -N) first', async (t) => {
  const files: Record<string, string> = {};
  for (const suffix of ['', '-1', '-2', '-10']) files[`archive_20240610T000000Z${suffix}.mp4`] = 'x';
  const root = t.testdir({ cam0: { '2024-06-10': files } });
  const listed = (await new DiskArchiveCatalog(() => root).list({})).map((e) => e.file.split('/')[2]);
  t.same(listed, [
    'archive_20240610T000000Z-10.mp4',
    'archive_20240610T000000Z-2.mp4',
    'archive_20240610T000000Z-1.mp4',
    'archive_20240610T000000Z.mp4',
  ]);
});

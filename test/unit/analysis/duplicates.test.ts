import t from 'tap';
import { judgeDuplicate, type DuplicateFacts, type DuplicateVerdict } from '../../../agent/analysis/duplicates.js';
import { signatureDistance, signatureOf } from '../../../agent/analysis/scene.js';

/** A flat grey scene whose first cell is bright in `changes` of its 32 rows (4 frames × 8): that many comparisons changed. */
const off = (changes: number) =>
  signatureOf(
    Uint8Array.from({ length: 288 }, (_, i) => {
      const [row, frame, col] = [Math.floor(i / 36), Math.floor((i % 36) / 9), i % 9];
      return col === 0 && frame * 8 + row < changes ? 255 : 128;
    }),
  );
const scene = off(0);
const costs = { skipDuplicates: true, duplicateMotion: 0.001, duplicateDistance: 8 };
const last = { signature: scene, file: 'cam1/2026-03-02/archive_20260302T100000Z.mp4' };
const base: DuplicateFacts = { costs, motion: { changed: 0 }, signature: scene, last };

t.test('the helper changes as many comparisons as asked', async (t) => {
  for (const n of [0, 1, 8, 9]) t.equal(signatureDistance(scene, off(n)), n);
});

t.test('the duplicate gate: skip only a still clip whose scene matches the last one analysed', async (t) => {
  const cases: [string, Partial<DuplicateFacts>, DuplicateVerdict][] = [
    ['still, same scene: skipped', {}, { duplicate: true, distance: 0, sameAs: last.file }],
    [
      'still, a few comparisons changed, within the distance: skipped',
      { signature: off(8) },
      { duplicate: true, distance: 8, sameAs: last.file },
    ],
    [
      'still, scene changed past the distance: analysed',
      { signature: off(9) },
      { duplicate: false, why: 'scene changed' },
    ],
    [
      'a little change within the threshold (noise, a leaf): skipped',
      { motion: { changed: 0.001 } },
      { duplicate: true, distance: 0, sameAs: last.file },
    ],
    [
      'a person of 0.2 % of the view walking (0.0035 changed): analysed whatever the scene',
      { motion: { changed: 0.0035 } },
      { duplicate: false, why: 'motion' },
    ],
    ['high motion: analysed', { motion: { changed: 0.4 } }, { duplicate: false, why: 'motion' }],
    [
      'motion not measured (camera-side H.264, a gap): analysed',
      { motion: null },
      { duplicate: false, why: 'motion not measured' },
    ],
    [
      'a summary without the changed fraction (a job from before it): analysed',
      { motion: {} },
      { duplicate: false, why: 'motion not measured' },
    ],
    ['no signature (FFmpeg failed): analysed', { signature: null }, { duplicate: false, why: 'no signature' }],
    ['first clip of the camera: analysed', { last: null }, { duplicate: false, why: 'first clip' }],
    [
      'a stored signature of another form (a 64-bit hash): analysed',
      { last: { ...last, signature: '0'.repeat(64) } },
      { duplicate: false, why: 'scene changed' },
    ],
    ['gate off: analysed', { costs: { ...costs, skipDuplicates: false } }, { duplicate: false, why: 'off' }],
    [
      'distance 0 asks for an exact match',
      { costs: { ...costs, duplicateDistance: 0 }, signature: off(1) },
      { duplicate: false, why: 'scene changed' },
    ],
    [
      'a camera that tolerates more change (trees in the wind): skipped',
      { costs: { ...costs, duplicateMotion: 0.05 }, motion: { changed: 0.03 } },
      { duplicate: true, distance: 0, sameAs: last.file },
    ],
  ];
  for (const [name, change, verdict] of cases) t.same(judgeDuplicate({ ...base, ...change }), verdict, name);
});

import t from 'tap';
import { judgeDuplicate, type DuplicateFacts, type DuplicateVerdict } from '../../../agent/analysis/duplicates.js';

const scene = '0'.repeat(64);
/** `scene` with the first `bits` bits set. */
const off = (bits: number) => `${'f'.repeat(Math.floor(bits / 4))}${bits % 4 ? ['', '8', 'c', 'e'][bits % 4] : ''}`.padEnd(64, '0');
const costs = { skipDuplicates: true, duplicateMotion: 0.001, duplicateDistance: 12 };
const last = { signature: scene, file: 'cam1/2026-03-02/archive_20260302T100000Z.mp4' };
const base: DuplicateFacts = { costs, motion: { changed: 0 }, signature: scene, last };

t.test('the duplicate gate: skip only a still clip whose scene matches the last one analysed', async (t) => {
  const cases: [string, Partial<DuplicateFacts>, DuplicateVerdict][] = [
    ['still, same scene: skipped', {}, { duplicate: true, distance: 0, sameAs: last.file }],
    ['still, a few bits of noise within the distance: skipped', { signature: off(12) }, { duplicate: true, distance: 12, sameAs: last.file }],
    ['still, scene changed past the distance: analysed', { signature: off(13) }, { duplicate: false, why: 'scene changed' }],
    ['a little change within the threshold (noise, a leaf): skipped', { motion: { changed: 0.001 } }, { duplicate: true, distance: 0, sameAs: last.file }],
    ['a person of 0.2 % of the view walking (0.0035 changed): analysed whatever the scene', { motion: { changed: 0.0035 } }, { duplicate: false, why: 'motion' }],
    ['high motion: analysed', { motion: { changed: 0.4 } }, { duplicate: false, why: 'motion' }],
    ['motion not measured (camera-side H.264, a gap): analysed', { motion: null }, { duplicate: false, why: 'motion not measured' }],
    ['a summary without the changed fraction (a job from before it): analysed', { motion: {} }, { duplicate: false, why: 'motion not measured' }],
    ['no signature (FFmpeg failed): analysed', { signature: null }, { duplicate: false, why: 'no signature' }],
    ['first clip of the camera: analysed', { last: null }, { duplicate: false, why: 'first clip' }],
    ['a stored signature of another form: analysed', { last: { ...last, signature: '0'.repeat(16) } }, { duplicate: false, why: 'scene changed' }],
    ['gate off: analysed', { costs: { ...costs, skipDuplicates: false } }, { duplicate: false, why: 'off' }],
    ['distance 0 asks for an exact match', { costs: { ...costs, duplicateDistance: 0 }, signature: off(1) }, { duplicate: false, why: 'scene changed' }],
    ['a camera that tolerates more change (trees in the wind): skipped', { costs: { ...costs, duplicateMotion: 0.05 }, motion: { changed: 0.03 } }, { duplicate: true, distance: 0, sameAs: last.file }],
  ];
  for (const [name, change, verdict] of cases) t.same(judgeDuplicate({ ...base, ...change }), verdict, name);
});

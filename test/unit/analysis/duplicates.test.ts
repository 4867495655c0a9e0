import t from 'tap';
import { judgeDuplicate, type DuplicateFacts, type DuplicateVerdict } from '../../../agent/analysis/duplicates.js';

const scene = '0'.repeat(64);
/** `scene` with the first `bits` bits set. */
const off = (bits: number) => `${'f'.repeat(Math.floor(bits / 4))}${bits % 4 ? ['', '8', 'c', 'e'][bits % 4] : ''}`.padEnd(64, '0');
const costs = { skipDuplicates: true, duplicateMotion: 0.01, duplicateDistance: 12 };
const last = { signature: scene, file: 'cam1/2026-03-02/archive_20260302T100000Z.mp4' };
const base: DuplicateFacts = { costs, motion: { max: 0.002 }, signature: scene, last };

t.test('the duplicate gate: skip only a still clip whose scene matches the last one analysed', async (t) => {
  const cases: [string, Partial<DuplicateFacts>, DuplicateVerdict][] = [
    ['still, same scene: skipped', {}, { duplicate: true, distance: 0, sameAs: last.file }],
    ['still, a few bits of noise within the distance: skipped', { signature: off(12) }, { duplicate: true, distance: 12, sameAs: last.file }],
    ['still, scene changed past the distance: analysed', { signature: off(13) }, { duplicate: false, why: 'scene changed' }],
    ['motion at the threshold: analysed whatever the scene', { motion: { max: 0.01 } }, { duplicate: false, why: 'motion' }],
    ['high motion: analysed', { motion: { max: 0.6 } }, { duplicate: false, why: 'motion' }],
    ['motion not measured (camera-side H.264, a gap): analysed', { motion: null }, { duplicate: false, why: 'motion not measured' }],
    ['no signature (FFmpeg failed): analysed', { signature: null }, { duplicate: false, why: 'no signature' }],
    ['first clip of the camera: analysed', { last: null }, { duplicate: false, why: 'first clip' }],
    ['a stored signature of another form: analysed', { last: { ...last, signature: '0'.repeat(16) } }, { duplicate: false, why: 'scene changed' }],
    ['gate off: analysed', { costs: { ...costs, skipDuplicates: false } }, { duplicate: false, why: 'off' }],
    ['distance 0 asks for an exact match', { costs: { ...costs, duplicateDistance: 0 }, signature: off(1) }, { duplicate: false, why: 'scene changed' }],
    ['a camera that tolerates more motion (trees): skipped', { costs: { ...costs, duplicateMotion: 0.05 }, motion: { max: 0.03 } }, { duplicate: true, distance: 0, sameAs: last.file }],
  ];
  for (const [name, change, verdict] of cases) t.same(judgeDuplicate({ ...base, ...change }), verdict, name);
});

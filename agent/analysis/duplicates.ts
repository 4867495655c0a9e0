/**
 * The near-duplicate gate: a still clip whose scene matches the last clip of its camera that the
 * model analysed tells the model nothing new, so it is skipped (`analysis.skipped`, reason
 * `duplicate`). Motion decides first: a clip whose motion was not measured, or in which more than
 * `duplicateMotion` of the picture changed clearly in some second, is always analysed; the scene
 * signature only tells "still and unchanged" from "still but different" (a car parked while the
 * agent was down, the camera turned). The changed fraction, not the mean motion score, because
 * a person walking across part of the view barely moves the mean (motion.ts changedFraction).
 */
import type { AnalysisCostConfig } from '../config/types.js';
import type { MotionSummary } from './answer.js';
import { signatureDistance } from './scene.js';

/** The scene of the last clip of a camera that the model analysed. */
export interface LastScene {
  signature: string;
  /** That clip's archive (relative to archive.dir). */
  file: string;
}

/** The gate's verdict: skip (with the distance and the clip it matches) or analyse (and why). */
export type DuplicateVerdict =
  | { duplicate: true; distance: number; sameAs: string }
  | {
      duplicate: false;
      why: 'off' | 'motion not measured' | 'motion' | 'no signature' | 'first clip' | 'scene changed';
    };

/** What the verdict depends on. */
export interface DuplicateFacts {
  costs: Pick<AnalysisCostConfig, 'skipDuplicates' | 'duplicateMotion' | 'duplicateDistance'>;
  /** The clip's motion summary; null when the meter saw too little of it. */
  motion: Pick<MotionSummary, 'changed'> | null;
  /** The clip's scene signature; null when it could not be taken. */
  signature: string | null;
  last: LastScene | null;
}

/** Whether a clip is a near-duplicate of the last one analysed (pure; every row of its table is tested). */
export function judgeDuplicate(facts: DuplicateFacts): DuplicateVerdict {
  const { costs, motion, signature, last } = facts;
  if (!costs.skipDuplicates) return { duplicate: false, why: 'off' };
  // Unmeasured motion is not "no motion": never skip on no evidence.
  if (motion?.changed === undefined) return { duplicate: false, why: 'motion not measured' };
  if (motion.changed > costs.duplicateMotion) return { duplicate: false, why: 'motion' };
  if (!signature) return { duplicate: false, why: 'no signature' };
  if (!last) return { duplicate: false, why: 'first clip' };
  const distance = signatureDistance(signature, last.signature);
  if (distance > costs.duplicateDistance) return { duplicate: false, why: 'scene changed' };
  return { duplicate: true, distance, sameAs: last.file };
}

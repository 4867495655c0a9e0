/**
 * What is asked of the model and how its answer becomes the R/analysis payload: the prompt,
 * the response schema (Gemini's OpenAPI subset, matching the contract's `events` fields), the
 * motion hint, and a strict check of the answer.
 */
import type { AnalysisFinding } from '../contract/messages.js';
import { MalformedAnswerError } from './errors.js';
import type { MotionSample } from './motion.js';

/** Severities the model may use, mildest first. */
export const SEVERITIES = ['info', 'low', 'medium', 'high'] as const;

/** The `responseSchema` sent with every request: the contract's `summary` and `events`. */
export const RESPONSE_SCHEMA = {
  type: 'OBJECT',
  properties: {
    summary: { type: 'STRING', description: 'Two or three sentences on what the clip shows.' },
    events: {
      type: 'ARRAY',
      items: {
        type: 'OBJECT',
        properties: {
          start: { type: 'STRING', description: 'Offset from the start of the clip, MM:SS.' },
          end: { type: 'STRING', description: 'Offset from the start of the clip, MM:SS.' },
          label: {
            type: 'STRING',
            description: 'A short lower-case tag, e.g. person, vehicle, delivery, door-open, fire, intrusion.',
          },
          description: { type: 'STRING', description: 'One sentence: who or what, doing what, where in the picture.' },
          severity: { type: 'STRING', enum: [...SEVERITIES] },
        },
        required: ['start', 'end', 'label', 'description', 'severity'],
        propertyOrdering: ['start', 'end', 'label', 'description', 'severity'],
      },
    },
  },
  required: ['summary', 'events'],
  propertyOrdering: ['summary', 'events'],
} as const;

/** The prompt when `analysis.prompt` is null: site security and operations. */
export const DEFAULT_PROMPT = [
  'You are reviewing a fixed security camera recording from a site (a gate, yard, shop floor or entrance).',
  'Report what a site manager or security officer would want to know: people and vehicles coming and going,',
  'deliveries, doors or gates left open, loitering, climbing or forced entry, tampering with the camera,',
  'smoke, fire, water, falls or injuries, and anything unusual for the place.',
  'List each distinct happening once with its start and end as MM:SS from the start of the clip.',
  'Severity: info (routine), low (worth a note), medium (someone should look), high (act now).',
  'Describe only what is visible; do not guess identities. If nothing happens, say so and return no events.',
].join(' ');

/** Motion figures for the result and the gate. */
export interface MotionSummary {
  /** Largest per-second score (0..1). */
  max: number;
  /** Seconds whose score reached `threshold`. */
  activeSeconds: number;
  threshold: number;
  /** One score per second from the archive's start, 3 decimals; null where no frames were seen. */
  perSecond: Array<number | null>;
  /**
   * The largest fraction of the picture that changed clearly (motion.ts CHANGE_LEVEL) between two
   * motion frames, 4 decimals; absent when the meter cannot say (then no clip is a duplicate).
   */
  changed?: number;
}

/** Summarises a timeline; null when fewer than half its seconds were measured (no basis to judge). */
export function summariseMotion(timeline: MotionSample[] | null, threshold: number): MotionSummary | null {
  if (!timeline || timeline.length === 0) return null;
  const seen = timeline.filter((s) => s.score !== null) as Array<{ t: number; score: number }>;
  if (seen.length < timeline.length / 2) return null;
  return {
    max: round(Math.max(0, ...seen.map((s) => s.score))),
    activeSeconds: seen.filter((s) => s.score >= threshold).length,
    threshold,
    perSecond: timeline.map((s) => (s.score === null ? null : round(s.score))),
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function mmss(seconds: number): string {
  return `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
}

/** The motion hint for the prompt: the spans where the meter saw movement. */
export function motionHint(motion: MotionSummary): string {
  const spans: string[] = [];
  let from = -1;
  let peak = 0;
  const scores = [...motion.perSecond, null];
  scores.forEach((score, t) => {
    const active = score !== null && score >= motion.threshold;
    if (active && from < 0) from = t;
    if (active) peak = Math.max(peak, score);
    if (!active && from >= 0) {
      spans.push(`${mmss(from)}-${mmss(t)} (peak ${peak.toFixed(2)})`);
      from = -1;
      peak = 0;
    }
  });
  if (spans.length === 0) return 'A frame-difference motion meter saw no movement in this clip.';
  return `A frame-difference motion meter saw movement at: ${spans.slice(0, 40).join(', ')}${spans.length > 40 ? ', ...' : ''}. Use it as a hint only.`;
}

/** The whole text part of the request. */
export function buildPrompt(prompt: string | null, motion: MotionSummary | null): string {
  const base = prompt ?? DEFAULT_PROMPT;
  return motion ? `${base}\n\n${motionHint(motion)}` : base;
}

/** Seconds from "MM:SS", "HH:MM:SS" (fractions allowed) or a bare number of seconds; null otherwise. */
export function parseOffset(text: string): number | null {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const m = /^(?:(\d+):)?(\d{1,3}):(\d{1,2}(?:\.\d+)?)$/.exec(trimmed);
  if (!m) return null;
  return Number(m[1] ?? 0) * 3600 + Number(m[2]) * 60 + Number(m[3]);
}

/**
 * Checks the model's JSON and turns its clip offsets into ISO times from the archive's start
 * (clamped to the archive); throws MalformedAnswerError for anything off-schema.
 */
export function parseAnswer(
  text: string | undefined,
  startMs: number,
  durationSeconds: number | null,
): { summary: string; events: AnalysisFinding[] } {
  let value: unknown;
  try {
    value = JSON.parse(text ?? '');
  } catch {
    throw new MalformedAnswerError(`model answer is not JSON: ${(text ?? '').slice(0, 80)}`);
  }
  const obj = value as { summary?: unknown; events?: unknown };
  if (!obj || typeof obj !== 'object' || typeof obj.summary !== 'string' || !Array.isArray(obj.events)) {
    throw new MalformedAnswerError('model answer lacks summary or events');
  }
  const limit = durationSeconds ?? Number.POSITIVE_INFINITY;
  const events = obj.events.map((raw: unknown, i: number): AnalysisFinding => {
    const e = raw as Record<string, unknown>;
    const fields = ['start', 'end', 'label', 'description', 'severity'] as const;
    for (const f of fields) {
      if (typeof e?.[f] !== 'string') throw new MalformedAnswerError(`model answer events[${i}].${f} is not a string`);
    }
    const start = parseOffset(e.start as string);
    const end = parseOffset(e.end as string);
    if (start === null || end === null)
      throw new MalformedAnswerError(`model answer events[${i}] has a bad time: ${String(e.start)}–${String(e.end)}`);
    const severity = (SEVERITIES as readonly string[]).includes(e.severity as string) ? (e.severity as string) : 'info';
    const s = Math.min(start, limit);
    const iso = (sec: number) => new Date(startMs + Math.round(sec * 1000)).toISOString();
    return {
      start: iso(s),
      end: iso(Math.max(s, Math.min(end, limit))),
      label: e.label as string,
      description: e.description as string,
      severity,
    };
  });
  return { summary: obj.summary, events };
}

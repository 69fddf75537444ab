import type { Box } from '../../lambda/src/core/geometry';
import { iou } from '../../lambda/src/core/nms';

/**
 * How far a candidate model agrees with a reference model on the same photos (`npm run
 * models:evaluate`, docs/model-evaluation.md): pure maths over the answers both gave, no I/O.
 * The reference plays the part of ground truth, so "precision" is the share of the candidate's
 * boxes the reference also found and "recall" the share of the reference's boxes the candidate
 * also found.
 */

/** A box to match is one of the same class (by label) whose IoU with it reaches this. */
export const MATCH_IOU = 0.5;

export interface ScoredBox {
  label: string;
  score: number;
  box: Box;
}

export interface BoxMatch {
  /** Indices into the reference and candidate lists. */
  reference: number;
  candidate: number;
  iou: number;
  /** Candidate score minus reference score. */
  scoreDrift: number;
}

export interface BoxMatching {
  matches: BoxMatch[];
  /** Reference boxes no candidate box matched (indices, in order). */
  missed: number[];
  /** Candidate boxes that matched no reference box (indices, in order). */
  extra: number[];
}

/**
 * Greedy matching, as detection benchmarks match predictions to ground truth: the candidate's
 * boxes in order of score (highest first; equal scores in list order), each taking the unmatched
 * reference box of the same label with the highest IoU, if that IoU is at least `minIoU` (equal
 * IoUs: the earlier reference box). Each box is matched at most once.
 */
export function matchBoxes(
  reference: readonly ScoredBox[],
  candidate: readonly ScoredBox[],
  minIoU = MATCH_IOU,
): BoxMatching {
  const order = candidate
    .map((box, index) => ({ box, index }))
    .sort((a, b) => b.box.score - a.box.score || a.index - b.index);
  const taken = new Array<boolean>(reference.length).fill(false);
  const matched = new Array<boolean>(candidate.length).fill(false);
  const matches: BoxMatch[] = [];
  for (const { box, index } of order) {
    let found: { index: number; box: ScoredBox; iou: number } | null = null;
    for (let i = 0; i < reference.length; i++) {
      const r = reference[i];
      if (!r || taken[i] || r.label !== box.label) continue;
      const overlap = iou(r.box, box.box);
      if (overlap >= minIoU && (found === null || overlap > found.iou))
        found = { index: i, box: r, iou: overlap };
    }
    if (found === null) continue;
    taken[found.index] = true;
    matched[index] = true;
    matches.push({
      reference: found.index,
      candidate: index,
      iou: found.iou,
      scoreDrift: box.score - found.box.score,
    });
  }
  return {
    matches,
    missed: reference.flatMap((_, i) => (taken[i] ? [] : [i])),
    extra: candidate.flatMap((_, i) => (matched[i] ? [] : [i])),
  };
}

export interface DetectionMetrics {
  referenceBoxes: number;
  candidateBoxes: number;
  matched: number;
  /** matched / candidateBoxes; 1 when the candidate found nothing (nothing extra). */
  precision: number;
  /** matched / referenceBoxes; 1 when the reference found nothing (nothing to miss). */
  recall: number;
  /** Over the matched pairs; null without any. */
  meanIoU: number | null;
  /** Mean |candidate score − reference score| over the matched pairs; null without any. */
  meanScoreDrift: number | null;
}

/** A ratio whose empty denominator means "nothing went wrong": 1. */
const share = (n: number, d: number) => (d === 0 ? 1 : n / d);
const mean = (values: readonly number[]) =>
  values.length === 0 ? null : values.reduce((s, v) => s + v, 0) / values.length;

/**
 * Precision, recall, mean IoU and mean |score drift| over one photo or many: counts pooled over
 * the photos (every box weighs the same, whichever photo it is on), not an average of per-photo
 * ratios.
 */
export function detectionMetrics(
  photos: readonly {
    referenceBoxes: number;
    candidateBoxes: number;
    matches: readonly Pick<BoxMatch, 'iou' | 'scoreDrift'>[];
  }[],
): DetectionMetrics {
  const referenceBoxes = photos.reduce((s, p) => s + p.referenceBoxes, 0);
  const candidateBoxes = photos.reduce((s, p) => s + p.candidateBoxes, 0);
  const matches = photos.flatMap((p) => p.matches);
  return {
    referenceBoxes,
    candidateBoxes,
    matched: matches.length,
    precision: share(matches.length, candidateBoxes),
    recall: share(matches.length, referenceBoxes),
    meanIoU: mean(matches.map((m) => m.iou)),
    meanScoreDrift: mean(matches.map((m) => Math.abs(m.scoreDrift))),
  };
}

export interface RankedClass {
  label: string;
  probability: number;
}

export interface ClassificationComparison {
  referenceTop1: RankedClass | null;
  candidateTop1: RankedClass | null;
  /** Both top-1 labels are the same (or both models answered nothing). */
  top1Agrees: boolean;
  /** The reference's top-1 is among the candidate's first five. */
  top5Agrees: boolean;
  /** The probability the candidate gives the reference's top-1 class (0 when not listed). */
  candidateProbability: number | null;
  /** |candidateProbability − reference top-1 probability|; null when the reference answered nothing. */
  probabilityDrift: number | null;
}

/**
 * One photo's classifications, each ranked best first. The candidate's list should hold every
 * class (or at least the reference's top-1): a class it does not list counts as probability 0.
 */
export function compareClassifications(
  reference: readonly RankedClass[],
  candidate: readonly RankedClass[],
): ClassificationComparison {
  const referenceTop1 = reference[0] ?? null;
  const candidateTop1 = candidate[0] ?? null;
  if (!referenceTop1) {
    return {
      referenceTop1,
      candidateTop1,
      top1Agrees: candidateTop1 === null,
      top5Agrees: candidateTop1 === null,
      candidateProbability: null,
      probabilityDrift: null,
    };
  }
  const candidateProbability = candidate.find((c) => c.label === referenceTop1.label)?.probability ?? 0;
  return {
    referenceTop1,
    candidateTop1,
    top1Agrees: candidateTop1?.label === referenceTop1.label,
    top5Agrees: candidate.slice(0, 5).some((c) => c.label === referenceTop1.label),
    candidateProbability,
    probabilityDrift: Math.abs(candidateProbability - referenceTop1.probability),
  };
}

export interface ClassificationMetrics {
  photos: number;
  top1Agreements: number;
  top5Agreements: number;
  /** Shares of the photos; 1 over no photo. */
  top1: number;
  top5: number;
  /** Mean |probability drift| of the reference's top-1; null when there is none. */
  meanProbabilityDrift: number | null;
}

export function classificationMetrics(
  photos: readonly Pick<ClassificationComparison, 'top1Agrees' | 'top5Agrees' | 'probabilityDrift'>[],
): ClassificationMetrics {
  const top1Agreements = photos.filter((p) => p.top1Agrees).length;
  const top5Agreements = photos.filter((p) => p.top5Agrees).length;
  return {
    photos: photos.length,
    top1Agreements,
    top5Agreements,
    top1: share(top1Agreements, photos.length),
    top5: share(top5Agreements, photos.length),
    meanProbabilityDrift: mean(
      photos.flatMap((p) => (p.probabilityDrift === null ? [] : [p.probabilityDrift])),
    ),
  };
}

export interface Thresholds {
  minRecall: number;
  minPrecision: number;
  minTop1: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = { minRecall: 0.9, minPrecision: 0.9, minTop1: 0.9 };

export interface Check {
  metric: 'recall' | 'precision' | 'top-1 agreement';
  value: number;
  min: number;
  pass: boolean;
}

export interface Verdict {
  pass: boolean;
  checks: Check[];
  /** `PASS: recall 0.95 ≥ 0.9, precision 0.93 ≥ 0.9` or `FAIL: recall 0.62 < 0.9, …`. */
  line: string;
}

/** A metric as the verdict shows it: 3 decimals, more when that would hide a failure. */
function shown(value: number, min: number): string {
  const short = String(Number(value.toFixed(3)));
  return value < min && short === String(min) ? String(value) : short;
}

function verdictOf(checks: Check[]): Verdict {
  const pass = checks.every((c) => c.pass);
  const parts = checks.map((c) => `${c.metric} ${shown(c.value, c.min)} ${c.pass ? '≥' : '<'} ${c.min}`);
  return { pass, checks, line: `${pass ? 'PASS' : 'FAIL'}: ${parts.join(', ')}` };
}

const check = (metric: Check['metric'], value: number, min: number): Check => ({
  metric,
  value,
  min,
  pass: value >= min,
});

export function detectionVerdict(m: DetectionMetrics, t: Thresholds): Verdict {
  return verdictOf([check('recall', m.recall, t.minRecall), check('precision', m.precision, t.minPrecision)]);
}

export function classificationVerdict(m: ClassificationMetrics, t: Thresholds): Verdict {
  return verdictOf([check('top-1 agreement', m.top1, t.minTop1)]);
}

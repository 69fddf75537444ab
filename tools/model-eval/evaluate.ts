import { readFile } from 'node:fs/promises';
import type { ModelSpec, Task } from '../../lambda/src/core/manifest';
import type { RecognitionOptions } from '../../lambda/src/core/options';
import type { Box } from '../../lambda/src/core/geometry';
import type { Labels, RecognitionResult } from '../../lambda/src/core/results';
import {
  classificationMetrics,
  classificationVerdict,
  compareClassifications,
  type ClassificationMetrics,
  type DetectionMetrics,
  detectionMetrics,
  detectionVerdict,
  MATCH_IOU,
  matchBoxes,
  type RankedClass,
  type Thresholds,
  type Verdict,
} from './agreement';
import type { PhotoFile } from './photos';

/**
 * Runs two models of one task on the same photos and compares their answers (agreement.ts).
 * Both answer through the service facade, exactly as a request would be answered (same decoder,
 * pre- and post-processing, defaults): `recognizer` is a RecognitionService (createService).
 */

/** What the evaluation needs of the service (RecognitionService has all of it). */
export interface Recognizer {
  spec(id: string): ModelSpec;
  preload(ids: readonly string[]): Promise<{ id: string; ok: boolean; error?: string }[]>;
  labels(id: string): Promise<Labels>;
  recognizeBatch(
    task: Task,
    images: readonly Uint8Array[],
    opts: RecognitionOptions,
  ): Promise<
    ({ ok: true; result: RecognitionResult } | { ok: false; error: { code: string; message: string } })[]
  >;
}

export interface EvaluationOptions {
  candidate: string;
  reference: string;
  photos: readonly PhotoFile[];
  /** Detection: the score threshold of both models (undefined: each model's manifest default). */
  minConfidence?: number;
  thresholds: Thresholds;
  /** Photos read and sent per batch (default 8): bounds the memory a large folder takes. */
  chunk?: number;
  /** Called after each chunk with the photos done so far. */
  progress?: (done: number, total: number) => void;
}

/** A model the evaluation cannot use: unknown, of another task, or not loadable (exit code 3). */
export class ModelProblem extends Error {}

export interface LabelledBox {
  label: string;
  score: number;
  box: Box;
}

/** One photo's detection agreement: the same metrics as over all photos, with what they count. */
export interface DetectionPhoto extends DetectionMetrics {
  name: string;
  matches: { label: string; referenceScore: number; candidateScore: number; iou: number }[];
  /** Reference boxes the candidate did not find, and candidate boxes the reference did not have. */
  missed: LabelledBox[];
  extra: LabelledBox[];
}

export interface ClassificationPhoto {
  name: string;
  reference: RankedClass | null;
  candidate: RankedClass | null;
  top1Agrees: boolean;
  top5Agrees: boolean;
  /** The candidate's probability for the reference's top-1 class. */
  candidateProbability: number | null;
  probabilityDrift: number | null;
  candidateTop5: RankedClass[];
}

export interface FailedPhoto {
  name: string;
  error: string;
}

interface ReportBase {
  candidate: string;
  reference: string;
  options: { minConfidence: number | null; matchIoU: number; thresholds: Thresholds };
  /** Photos both models answered, and photos left out (unreadable, or a model's error). */
  evaluated: number;
  failures: FailedPhoto[];
  verdict: Verdict;
}

export type EvaluationReport = ReportBase &
  (
    | { task: 'detection'; overall: DetectionMetrics; photos: DetectionPhoto[] }
    | { task: 'classification'; overall: ClassificationMetrics; photos: ClassificationPhoto[] }
  );

const NO_PHOTO: Verdict = { pass: false, checks: [], line: 'FAIL: no photo could be evaluated' };

function specOf(recognizer: Recognizer, id: string, role: string): ModelSpec {
  try {
    return recognizer.spec(id);
  } catch (e) {
    throw new ModelProblem(`${role} ${(e as Error).message}`);
  }
}

export async function evaluate(recognizer: Recognizer, o: EvaluationOptions): Promise<EvaluationReport> {
  const candidate = specOf(recognizer, o.candidate, 'candidate:');
  const reference = specOf(recognizer, o.reference, 'reference:');
  if (candidate.task !== reference.task) {
    throw new ModelProblem(
      `'${candidate.id}' does ${candidate.task} and '${reference.id}' does ${reference.task}: compare two models of one task.`,
    );
  }
  const task = candidate.task;
  for (const r of await recognizer.preload([...new Set([reference.id, candidate.id])])) {
    if (!r.ok) throw new ModelProblem(`model '${r.id}' cannot be used: ${r.error ?? 'unknown error'}`);
  }
  const base = {
    candidate: candidate.id,
    reference: reference.id,
    options: {
      minConfidence: task === 'detection' ? (o.minConfidence ?? null) : null,
      matchIoU: MATCH_IOU,
      thresholds: o.thresholds,
    },
  };
  const candidateOpts: RecognitionOptions = { model: candidate.id, topK: 5, format: 'json' };
  const referenceOpts: RecognitionOptions = { model: reference.id, topK: 5, format: 'json' };
  if (task === 'detection' && o.minConfidence !== undefined) {
    candidateOpts.minConfidence = o.minConfidence;
    referenceOpts.minConfidence = o.minConfidence;
  }
  // Every class of the candidate, so the probability it gives the reference's top-1 is known.
  if (task === 'classification') candidateOpts.topK = (await recognizer.labels(candidate.id)).names.length;

  const failures: FailedPhoto[] = [];
  // Compared chunk by chunk: a classifier's answers here hold every class, kept only until compared.
  const detections: DetectionPhoto[] = [];
  const classifications: ClassificationPhoto[] = [];
  const chunk = Math.max(1, o.chunk ?? 8);
  for (let start = 0; start < o.photos.length; start += chunk) {
    const files = o.photos.slice(start, start + chunk);
    const readable: { name: string; bytes: Uint8Array }[] = [];
    for (const p of files) {
      try {
        readable.push({ name: p.name, bytes: await readFile(p.file) });
      } catch (e) {
        failures.push({
          name: p.name,
          error: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        });
      }
    }
    const images = readable.map((r) => r.bytes);
    const refs = images.length > 0 ? await recognizer.recognizeBatch(task, images, referenceOpts) : [];
    const cands = images.length > 0 ? await recognizer.recognizeBatch(task, images, candidateOpts) : [];
    readable.forEach(({ name }, i) => {
      const r = refs[i];
      const c = cands[i];
      if (r?.ok && c?.ok) {
        if (task === 'detection') detections.push(compareDetectionAnswers(name, r.result, c.result));
        else classifications.push(compareClassificationAnswers(name, r.result, c.result));
        return;
      }
      const refError = r && !r.ok ? errorOf(r) : null;
      const candError = c && !c.ok ? errorOf(c) : null;
      const error =
        refError !== null && refError === candError
          ? refError
          : [refError && `reference ${refError}`, candError && `candidate ${candError}`]
              .filter(Boolean)
              .join('; ');
      failures.push({ name, error: error || 'no answer' });
    });
    o.progress?.(Math.min(start + chunk, o.photos.length), o.photos.length);
  }

  if (task === 'detection') {
    const photos = detections;
    const overall = detectionMetrics(
      photos.map((p) => ({
        referenceBoxes: p.referenceBoxes,
        candidateBoxes: p.candidateBoxes,
        matches: p.matches.map((m) => ({ iou: m.iou, scoreDrift: m.candidateScore - m.referenceScore })),
      })),
    );
    return {
      ...base,
      task,
      evaluated: photos.length,
      failures,
      overall,
      photos,
      verdict: photos.length === 0 ? NO_PHOTO : detectionVerdict(overall, o.thresholds),
    };
  }
  const photos = classifications;
  const overall = classificationMetrics(photos);
  return {
    ...base,
    task,
    evaluated: photos.length,
    failures,
    overall,
    photos,
    verdict: photos.length === 0 ? NO_PHOTO : classificationVerdict(overall, o.thresholds),
  };
}

const errorOf = (item: { ok: false; error: { code: string; message: string } }) =>
  `${item.error.code}: ${item.error.message}`;

function at<T>(list: readonly T[], i: number): T {
  const value = list[i];
  if (value === undefined) throw new Error(`unreachable: no item ${i}`);
  return value;
}

function compareDetectionAnswers(
  name: string,
  reference: RecognitionResult,
  candidate: RecognitionResult,
): DetectionPhoto {
  if (reference.task !== 'detection' || candidate.task !== 'detection')
    throw new Error('unreachable: task checked');
  const ref = reference.detections.map((d) => ({ label: d.label, score: d.score, box: d.box }));
  const cand = candidate.detections.map((d) => ({ label: d.label, score: d.score, box: d.box }));
  const { matches, missed, extra } = matchBoxes(ref, cand);
  return {
    name,
    ...detectionMetrics([{ referenceBoxes: ref.length, candidateBoxes: cand.length, matches }]),
    matches: matches.map((m) => ({
      label: at(ref, m.reference).label,
      referenceScore: at(ref, m.reference).score,
      candidateScore: at(cand, m.candidate).score,
      iou: m.iou,
    })),
    missed: missed.map((i) => at(ref, i)),
    extra: extra.map((i) => at(cand, i)),
  };
}

function compareClassificationAnswers(
  name: string,
  reference: RecognitionResult,
  candidate: RecognitionResult,
): ClassificationPhoto {
  if (reference.task !== 'classification' || candidate.task !== 'classification') {
    throw new Error('unreachable: task checked');
  }
  const ranked = (r: typeof reference) =>
    r.predictions.map((p) => ({ label: p.label, probability: p.probability }));
  const cand = ranked(candidate);
  const c = compareClassifications(ranked(reference), cand);
  return {
    name,
    reference: c.referenceTop1,
    candidate: c.candidateTop1,
    top1Agrees: c.top1Agrees,
    top5Agrees: c.top5Agrees,
    candidateProbability: c.candidateProbability,
    probabilityDrift: c.probabilityDrift,
    candidateTop5: cand.slice(0, 5),
  };
}

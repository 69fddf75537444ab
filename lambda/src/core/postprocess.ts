import { softmax, topK } from './classification';
import { toOriginalBox, type ResizePlan, type Size } from './geometry';
import type { ClassificationPostprocess, DetectionPostprocess, InputSpec } from './manifest';
import { nonMaxSuppression, type Candidate } from './nms';
import type { Detection, Labels, Prediction } from './results';
import type { OutputMap, OutputTensor } from './tensor-types';
import { decodeYoloHeads } from './yolo-heads';
import { decodeYolox } from './yolox';

const round = (v: number, digits: number) => Number(v.toFixed(digits));

/** A classifier's output as probabilities: as it is when the model ends in a softmax, else softmaxed. */
export function classProbabilities(output: OutputTensor, post: ClassificationPostprocess): ArrayLike<number> {
  return post.outputIsProbability ? output.data : softmax(output.data);
}

export function classifyOutput(
  output: OutputTensor,
  post: ClassificationPostprocess,
  labels: Labels,
  k: number,
  minConfidence = 0,
): Prediction[] {
  return rankClasses(classProbabilities(output, post), labels, k, minConfidence);
}

/** The k most probable classes, best first, those under `minConfidence` dropped. */
export function rankClasses(
  probabilities: ArrayLike<number>,
  labels: Labels,
  k: number,
  minConfidence = 0,
): Prediction[] {
  return (
    topK(probabilities, k)
      .map(({ index, score }) => ({
        label: labels.names[index] ?? `class ${index}`,
        synset: labels.synsets?.[index] ?? null,
        classId: index,
        probability: round(score, 6),
      }))
      // On the rounded value, so every probability answered is at least the threshold.
      .filter((p) => p.probability >= minConfidence)
  );
}

export interface DetectOptions {
  scoreThreshold: number;
  iouThreshold: number;
  maxDetections: number;
  /** Only these class ids; applied before NMS and maxDetections, so other classes neither suppress nor crowd out these. */
  classes?: ReadonlySet<number>;
}

export function detectOutput(
  outputs: OutputMap,
  post: DetectionPostprocess,
  input: Pick<InputSpec, 'width' | 'height'>,
  plan: ResizePlan,
  original: Size,
  labels: Labels,
  opts: DetectOptions,
): Detection[] {
  const candidates: Candidate[] =
    post.family === 'yolox'
      ? decodeYolox(outputs, post, input, opts.scoreThreshold)
      : decodeYoloHeads(outputs, post, opts.scoreThreshold);
  const { classes } = opts;
  const wanted = classes ? candidates.filter((c) => classes.has(c.classId)) : candidates;
  const mapped = wanted
    .map((c) => ({ ...c, box: toOriginalBox(c.box, plan, original) }))
    // Boxes that collapse to under half a pixel once clipped carry no information.
    .filter((c) => c.box.x2 - c.box.x1 >= 0.5 && c.box.y2 - c.box.y1 >= 0.5);
  const kept = nonMaxSuppression(mapped, {
    iouThreshold: opts.iouThreshold,
    classAgnostic: post.classAgnosticNms,
    maxDetections: opts.maxDetections,
  });
  return kept.map(({ box, classId, score }) => ({
    label: labels.names[classId] ?? `class ${classId}`,
    classId,
    score: round(score, 4),
    box: { x1: round(box.x1, 1), y1: round(box.y1, 1), x2: round(box.x2, 1), y2: round(box.y2, 1) },
    boxNormalized: {
      x1: round(box.x1 / original.width, 4),
      y1: round(box.y1 / original.height, 4),
      x2: round(box.x2 / original.width, 4),
      y2: round(box.y2 / original.height, 4),
    },
  }));
}

import type { CompiledHierarchy, Summary } from './hierarchy';
import type { Box, Size } from './geometry';
import type { Task } from './manifest';

export interface Prediction {
  label: string;
  synset: string | null;
  classId: number;
  probability: number;
}

export interface Detection {
  label: string;
  classId: number;
  score: number;
  /** Original (EXIF-oriented) image pixels. */
  box: Box;
  /** The same box divided by the image width/height: [0, 1]. */
  boxNormalized: Box;
}

export interface Timings {
  decodeMs: number;
  preprocessMs: number;
  inferenceMs: number;
  postprocessMs: number;
  totalMs: number;
}

export interface ImageInfo extends Size {
  format: string;
}

interface ResultBase {
  task: Task;
  model: string;
  /** Top-1 label (classification) or best detection's label, null when nothing was found. */
  label: string | null;
  image: ImageInfo;
  timings: Timings;
}

export interface ClassificationResult extends ResultBase {
  task: 'classification';
  /** Top-1 label; null when no prediction reaches `minConfidence`. */
  label: string | null;
  predictions: Prediction[];
  /**
   * Models with a hierarchy: the most specific ancestor of the classes whose summed probability
   * reaches `summaryThreshold` (null when none does). Absent for models without one.
   */
  summary?: Summary | null;
}

export interface DetectionResult extends ResultBase {
  task: 'detection';
  detections: Detection[];
}

export type RecognitionResult = ClassificationResult | DetectionResult;

export interface Labels {
  names: readonly string[];
  synsets: readonly string[] | null;
  /** The synsets' hypernym tree, when the manifest names one: answers then carry a summary. */
  hierarchy?: CompiledHierarchy;
}

/**
 * The model manifest: a declarative description of how each model is fed and read. Adding a model
 * is adding an entry here (or in a user manifest), never code.
 */
export type Task = 'classification' | 'detection';
export type Layout = 'NCHW' | 'NHWC';
export type ChannelOrder = 'RGB' | 'BGR';

export type ResizeSpec =
  /** torchvision eval transform: shorter side to `shorterSide`, then a centred crop of the input size. */
  | { mode: 'center-crop'; shorterSide: number }
  /** Aspect-preserving fit, padded with `padValue` (0..255) centred or at the top-left. */
  | { mode: 'letterbox'; align: 'center' | 'top-left'; padValue: number }
  /** Resize to the input size ignoring aspect ratio. */
  | { mode: 'stretch' };

export interface InputSpec {
  name: string;
  layout: Layout;
  width: number;
  height: number;
  dtype: 'float32';
  /**
   * How many images one session run may take (a batch request's chunk). Absent or 1: one image per
   * run. Over 1 requires a symbolic (dynamic) batch dimension in the graph, which loading checks.
   * Batched runs hold activations for every image at once, so this also bounds the memory a run
   * adds (docs/performance.md, "Several images per request").
   */
  maxBatch?: number | null;
}

export interface PreprocessSpec {
  resize: ResizeSpec;
  channels: ChannelOrder;
  /** value = (pixel * scale - mean[c]) / std[c], with pixel in 0..255. */
  scale: number;
  mean: [number, number, number];
  std: [number, number, number];
}

export interface ClassificationPostprocess {
  family: 'classification';
  /** True when the graph already ends in softmax. */
  outputIsProbability: boolean;
  topK: number;
}

export interface YoloHead {
  output: string;
  stride: number;
  /** Anchor sizes in input pixels. */
  anchors: [number, number][];
  /** YOLOv4's XYSCALE (Darknet scale_x_y); 1 for plain YOLOv3 heads. */
  scaleXY: number;
}

export interface YoloHeadsPostprocess {
  family: 'yolo-heads';
  /** `grid-anchor-attrs`: [1,G,G,A,5+C] (zoo YOLOv4); `darknet`: [1,A*(5+C),G,G] raw conv output. */
  headLayout: 'grid-anchor-attrs' | 'darknet';
  /** Whether objectness and class scores are already sigmoid-activated in the graph. */
  scoresActivated: boolean;
  /** Darknet emits every class above threshold for a box; otherwise only the best class. */
  multiLabel: boolean;
  heads: YoloHead[];
  scoreThreshold: number;
  iouThreshold: number;
  classAgnosticNms: boolean;
  maxDetections: number;
}

export interface YoloxPostprocess {
  family: 'yolox';
  output: string;
  strides: number[];
  scoreThreshold: number;
  iouThreshold: number;
  classAgnosticNms: boolean;
  maxDetections: number;
}

export type DetectionPostprocess = YoloHeadsPostprocess | YoloxPostprocess;
export type PostprocessSpec = ClassificationPostprocess | DetectionPostprocess;

export interface LabelSpec {
  /** Short display names, one per line, in output order. */
  names: string;
  /** Optional full names (e.g. ImageNet synsets "n02110063 malamute, malemute, Alaskan malamute"). */
  synsets?: string;
  /**
   * Optional WordNet hypernym tree of the synsets (models/imagenet-hierarchy.json, built by
   * tools/imagenet-hierarchy): answers then carry a `summary`, the most specific ancestor the
   * summed probabilities make likely ("dog" when the breeds split). Needs `synsets`.
   */
  hierarchy?: string;
}

export interface ModelSpec {
  id: string;
  task: Task;
  description: string;
  file: string;
  /** Expected sha256 of the file; null skips verification (user models, bench stand-ins). */
  sha256: string | null;
  bytes: number | null;
  /**
   * Where the file can be downloaded, tried in order; every one is checked against `sha256`.
   * Empty for models that only exist locally. (A user manifest may still say `"url": "…"`.)
   */
  urls: string[];
  license: string;
  source: string;
  input: InputSpec;
  preprocess: PreprocessSpec;
  outputs: { name: string; shape: (number | null)[] }[];
  postprocess: PostprocessSpec;
  labels: LabelSpec;
  numClasses: number;
}

/** Images per session run for `input` (see {@link InputSpec.maxBatch}): 1 unless a valid count is declared. */
export function maxBatchOf(input: Pick<InputSpec, 'maxBatch'>): number {
  const n = input.maxBatch;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 ? n : 1;
}

export interface Manifest {
  models: ModelSpec[];
}

export type ModelOverride = { id: string } & DeepPartial<Omit<ModelSpec, 'id'>>;
export type DeepPartial<T> = T extends (infer U)[]
  ? U[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> | null }
    : T;

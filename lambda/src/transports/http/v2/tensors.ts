/**
 * What a model looks like through the Open Inference Protocol, and its answers as v2 tensors.
 * Two ways in, told apart by datatype: `image` (BYTES: encoded photos, through the same decoding,
 * preprocessing and postprocessing as /classifier and /detector) answered with the pipeline's
 * outputs below; or the model's own FP32 input (packed by the client) answered with the model's
 * own outputs.
 */
import { topK } from '../../../core/classification';
import { InvalidRequestError } from '../../../core/errors';
import { maxBatchOf, type ModelSpec } from '../../../core/manifest';
import type { ClassificationResult, DetectionResult, Labels } from '../../../core/results';
import { inputShape } from '../../../core/tensor';
import type { OutputTensor } from '../../../core/tensor-types';
import type { InferOutputRequest } from './infer-request';

export type Datatype = 'BYTES' | 'FP32' | 'INT32';

export interface MetadataTensor {
  name: string;
  datatype: Datatype;
  shape: number[];
}

export interface ResponseTensor extends MetadataTensor {
  data: (number | string)[];
}

/** The BYTES input that takes encoded photos. */
export const IMAGE_INPUT = 'image';

/** The pipeline's outputs for photos, per task (the image input's answers). */
export const PIPELINE_OUTPUTS = {
  classification: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, -1] }],
  detection: [
    { name: 'num_detections', datatype: 'INT32', shape: [-1] },
    { name: 'detection_boxes', datatype: 'FP32', shape: [-1, -1, 4] },
    { name: 'detection_scores', datatype: 'FP32', shape: [-1, -1] },
    { name: 'detection_classes', datatype: 'INT32', shape: [-1, -1] },
    { name: 'detection_labels', datatype: 'BYTES', shape: [-1, -1] },
  ],
} as const satisfies Record<string, readonly MetadataTensor[]>;

/** GET /v2/models/{model}: both inputs and every output, from the manifest. */
export function modelMetadata(spec: ModelSpec) {
  const batch = maxBatchOf(spec.input) > 1 ? -1 : 1;
  const pipeline: MetadataTensor[] = PIPELINE_OUTPUTS[spec.task].map((t) => ({
    ...t,
    shape: t.name === 'probabilities' ? [-1, spec.numClasses] : [...t.shape],
  }));
  return {
    name: spec.id,
    platform: 'onnxruntime_onnx',
    inputs: [
      { name: IMAGE_INPUT, datatype: 'BYTES', shape: [-1] },
      { name: spec.input.name, datatype: 'FP32', shape: inputShape(spec, batch) },
    ] satisfies MetadataTensor[],
    outputs: [
      ...pipeline,
      ...spec.outputs.map((o) => ({
        name: o.name,
        datatype: 'FP32' as const,
        shape: o.shape.map((d) => d ?? -1),
      })),
    ],
  };
}

/** Float32 values as JSON numbers: at most 9 significant digits, which round-trip any float32. */
const f32 = (v: number) => Number(v.toPrecision(9));

/** The outputs asked for, in the request's order; all of `available`, in order, when none are. */
function selected(
  requested: readonly InferOutputRequest[] | undefined,
  available: readonly string[],
): InferOutputRequest[] {
  if (!requested) return available.map((name) => ({ name, parameters: {} }));
  for (const r of requested) {
    if (!available.includes(r.name)) {
      throw new InvalidRequestError(
        `Unknown output '${r.name}' for this input; outputs: ${available.join(', ')}.`,
      );
    }
  }
  return [...requested];
}

/**
 * The classification extension's count (`"parameters": {"classification": k}`), or undefined when
 * the output asks for the tensor itself.
 */
function classificationCount(output: InferOutputRequest, classes: number): number | undefined {
  const k = output.parameters.classification;
  if (k === undefined) return undefined;
  if (!Number.isSafeInteger(k) || (k as number) < 1) {
    throw new InvalidRequestError(`outputs '${output.name}': "classification" must be a positive integer.`);
  }
  return Math.min(k as number, classes);
}

/**
 * Triton's classification extension: per row, the k highest values as "value:index:label", best
 * first (the value with 6 decimals, as Triton prints it; no ":label" when the class has no name).
 */
function classificationTensor(
  name: string,
  rows: readonly ArrayLike<number>[],
  k: number,
  labels: Labels,
): ResponseTensor {
  const data = rows.flatMap((row) =>
    topK(row, k).map(({ index, score }) => {
      const label = labels.names[index];
      return `${score.toFixed(6)}:${index}${label === undefined ? '' : `:${label}`}`;
    }),
  );
  return { name, datatype: 'BYTES', shape: [rows.length, k], data };
}

/** Photos through a classifier: `probabilities` [n, classes] (softmax, as /classifier ranks them). */
export function classificationOutputs(
  spec: ModelSpec,
  results: readonly ClassificationResult[],
  requested: readonly InferOutputRequest[] | undefined,
  labels: Labels,
): ResponseTensor[] {
  const rows = results.map((r) => {
    const row = new Float32Array(spec.numClasses);
    for (const p of r.predictions) row[p.classId] = p.probability;
    return row;
  });
  return selected(requested, ['probabilities']).map((output) => {
    const k = classificationCount(output, spec.numClasses);
    if (k !== undefined) return classificationTensor(output.name, rows, k, labels);
    return {
      name: output.name,
      datatype: 'FP32',
      shape: [rows.length, spec.numClasses],
      data: rows.flatMap((row) => Array.from(row, f32)),
    };
  });
}

/**
 * Photos through a detector, in the layout of NMS-ending detectors served by Triton
 * (num_detections, boxes, scores, classes) plus the class names: rows padded to the most
 * detections of any photo (boxes and scores 0, class -1, label "").
 */
export function detectionOutputs(
  results: readonly DetectionResult[],
  requested: readonly InferOutputRequest[] | undefined,
): ResponseTensor[] {
  const n = results.length;
  const m = Math.max(0, ...results.map((r) => r.detections.length));
  const padded = <T>(per: (d: DetectionResult['detections'][number]) => T[], pad: T[]) =>
    results.flatMap((r) => {
      const rows = r.detections.map(per);
      while (rows.length < m) rows.push(pad);
      return rows.flat();
    });
  const tensors: Record<string, () => ResponseTensor> = {
    num_detections: () => ({
      name: 'num_detections',
      datatype: 'INT32',
      shape: [n],
      data: results.map((r) => r.detections.length),
    }),
    detection_boxes: () => ({
      name: 'detection_boxes',
      datatype: 'FP32',
      shape: [n, m, 4],
      data: padded((d) => [d.box.x1, d.box.y1, d.box.x2, d.box.y2], [0, 0, 0, 0]),
    }),
    detection_scores: () => ({
      name: 'detection_scores',
      datatype: 'FP32',
      shape: [n, m],
      data: padded((d) => [d.score], [0]),
    }),
    detection_classes: () => ({
      name: 'detection_classes',
      datatype: 'INT32',
      shape: [n, m],
      data: padded((d) => [d.classId], [-1]),
    }),
    detection_labels: () => ({
      name: 'detection_labels',
      datatype: 'BYTES',
      shape: [n, m],
      data: padded((d) => [d.label], ['']),
    }),
  };
  const names = PIPELINE_OUTPUTS.detection.map((t) => t.name);
  return selected(requested, names).map((output) => {
    if (output.parameters.classification !== undefined) {
      throw new InvalidRequestError(`The classification extension applies to classifiers' outputs only.`);
    }
    return (tensors[output.name] as () => ResponseTensor)();
  });
}

/**
 * The model's own outputs for a client-packed tensor, as the runtime gave them; for a classifier,
 * the classification extension ranks each row's raw values (Triton's behaviour: no softmax).
 */
export function rawOutputs(
  spec: ModelSpec,
  outputs: Readonly<Record<string, OutputTensor>>,
  requested: readonly InferOutputRequest[] | undefined,
  labels: Labels | null,
): ResponseTensor[] {
  return selected(requested, Object.keys(outputs)).map((output) => {
    const tensor = outputs[output.name] as OutputTensor;
    const classes = tensor.dims[tensor.dims.length - 1] ?? 0;
    const k = spec.task === 'classification' && labels ? classificationCount(output, classes) : undefined;
    if (output.parameters.classification !== undefined && k === undefined) {
      throw new InvalidRequestError(`The classification extension applies to classifiers' outputs only.`);
    }
    if (k !== undefined && labels) {
      const rows = Array.from({ length: tensor.data.length / classes }, (_, r) =>
        tensor.data.subarray(r * classes, (r + 1) * classes),
      );
      return classificationTensor(output.name, rows, k, labels);
    }
    return {
      name: output.name,
      datatype: 'FP32',
      shape: [...tensor.dims],
      data: Array.from(tensor.data, f32),
    };
  });
}

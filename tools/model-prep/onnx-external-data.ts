import protobuf from 'protobufjs';
import { DataLocation, FIELD } from './onnx-proto';
import { type Field, lengthHeader, scanFields, tag, WireType } from './onnx-wire';

/**
 * Moves an ONNX model's large initializers out of the protobuf into a separate weights file (ONNX
 * "external data": TensorProto.data_location = EXTERNAL, external_data = location/offset/length).
 *
 * Why: onnxruntime reads an embedded model whole, keeps the parsed protobuf while it builds its
 * own tensors from it and then reorders the convolution weights, so the weights exist three times
 * during session creation (docs/performance.md has YOLOv4's peak RSS). External
 * data is memory-mapped instead of copied, so session creation is faster and the peak lower
 * (measured in docs/performance.md). Offsets are aligned to 64 KiB, the granularity onnxruntime
 * needs to map a tensor in place.
 *
 * Wire-level like the Mish rewrite: only initializer fields are touched; weights are passed on as
 * views of the source bytes, never copied here.
 */

/** onnxruntime maps external data only at offsets aligned to the allocation granularity. */
export const EXTERNAL_DATA_ALIGNMENT = 65536;

/** Smaller initializers stay embedded: scalars and shapes are read by graph rewrites and optimisers. */
export const MIN_EXTERNAL_BYTES = 1024;

export interface ExternalizedModel {
  /** The model without the moved weights, as parts to concatenate or write in order. */
  modelParts: Uint8Array[];
  /** The weights file: each moved tensor's bytes, preceded by zero padding up to its offset. */
  dataParts: Uint8Array[];
  /** Number of initializers moved, and the weights file's length. */
  tensors: number;
  dataBytes: number;
}

// TensorProto field numbers (onnx.proto).

function externalDataEntry(key: string, value: string): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32(tag(FIELD.tensor.externalData, WireType.LENGTH_DELIMITED)).fork();
  w.uint32(tag(FIELD.entry.key, WireType.LENGTH_DELIMITED)).string(key);
  w.uint32(tag(FIELD.entry.value, WireType.LENGTH_DELIMITED)).string(value);
  w.ldelim();
  return w.finish();
}

/**
 * Whether any initializer already lives in an external file. Such a model is loaded as it is: a
 * copy in another folder would point at weights that are not beside it.
 */
export function hasExternalInitializers(bytes: Uint8Array): boolean {
  const graphField = scanFields(bytes).find((f) => f.field === FIELD.model.graph);
  if (!graphField) return false;
  return scanFields(bytes, graphField.dataStart, graphField.end).some(
    (f) =>
      f.field === FIELD.graph.initializer &&
      scanFields(bytes, f.dataStart, f.end).some(
        (t) => t.field === FIELD.tensor.dataLocation || t.field === FIELD.tensor.externalData,
      ),
  );
}

/**
 * Splits `bytes` (an ONNX ModelProto with embedded weights) into a model that refers to
 * `location` (the weights file's name, relative to the model file) and the weights file's parts.
 * Tensors already external, or smaller than `minBytes`, stay as they are; a model with nothing to
 * move comes back as one part and `tensors: 0`.
 */
export function externalizeInitializers(
  bytes: Uint8Array,
  location: string,
  minBytes = MIN_EXTERNAL_BYTES,
): ExternalizedModel {
  const modelFields = scanFields(bytes);
  const graphField = modelFields.find((f) => f.field === FIELD.model.graph);
  const unchanged: ExternalizedModel = { modelParts: [bytes], dataParts: [], tensors: 0, dataBytes: 0 };
  if (!graphField) return unchanged;

  const dataParts: Uint8Array[] = [];
  let offset = 0;
  let tensors = 0;
  const graphParts: Uint8Array[] = [];
  for (const f of scanFields(bytes, graphField.dataStart, graphField.end)) {
    const moved = f.field === FIELD.graph.initializer ? moveTensor(bytes, f) : null;
    if (!moved) {
      graphParts.push(bytes.subarray(f.start, f.end));
      continue;
    }
    const padding = (EXTERNAL_DATA_ALIGNMENT - (offset % EXTERNAL_DATA_ALIGNMENT)) % EXTERNAL_DATA_ALIGNMENT;
    if (padding) dataParts.push(new Uint8Array(padding));
    offset += padding;
    dataParts.push(moved.data);
    const tensor = [
      ...moved.kept,
      externalDataEntry('location', location),
      externalDataEntry('offset', String(offset)),
      externalDataEntry('length', String(moved.data.length)),
      protobuf.Writer.create()
        .uint32(tag(FIELD.tensor.dataLocation, WireType.VARINT))
        .int32(DataLocation.EXTERNAL)
        .finish(),
    ];
    graphParts.push(lengthHeader(FIELD.graph.initializer, sum(tensor)), ...tensor);
    offset += moved.data.length;
    tensors++;
  }
  if (tensors === 0) return unchanged;

  const modelParts: Uint8Array[] = [];
  for (const f of modelFields) {
    if (f === graphField) modelParts.push(lengthHeader(FIELD.model.graph, sum(graphParts)), ...graphParts);
    else modelParts.push(bytes.subarray(f.start, f.end));
  }
  return { modelParts, dataParts, tensors, dataBytes: offset };

  /** The tensor's fields without raw_data, and raw_data itself, when it is worth moving. */
  function moveTensor(buf: Uint8Array, initializer: Field): { kept: Uint8Array[]; data: Uint8Array } | null {
    const fields = scanFields(buf, initializer.dataStart, initializer.end);
    if (fields.some((t) => t.field === FIELD.tensor.dataLocation || t.field === FIELD.tensor.externalData))
      return null;
    const raw = fields.find((t) => t.field === FIELD.tensor.rawData);
    if (!raw || raw.end - raw.dataStart < minBytes) return null;
    return {
      kept: fields.filter((t) => t !== raw).map((t) => buf.subarray(t.start, t.end)),
      data: buf.subarray(raw.dataStart, raw.end),
    };
  }
}

const sum = (parts: readonly Uint8Array[]) => parts.reduce((s, p) => s + p.length, 0);

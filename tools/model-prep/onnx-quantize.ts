import {
  DataType,
  decodeModel,
  encodeModel,
  type NodeMsg,
  type TensorMsg,
  toNumber,
  type ValueInfoMsg,
} from './onnx-proto';

/**
 * Static int8 quantisation of a model's convolutions, in onnxruntime's QOperator form:
 *
 *   x ─ QuantizeLinear ─ QLinearConv(int8 weights per output channel, int32 bias) ─ DequantizeLinear ─ y
 *
 * Everything between convolutions (YOLOv4's Mish, concatenations, resizes, the heads' decoding)
 * stays float, so the graph keeps its inputs, outputs and every other node. Weights are symmetric
 * int8 per output channel (max |w| / 127); activations asymmetric uint8 from the ranges seen in a
 * calibration run on real photos (`exposeConvTensors`, then the caller runs it). QLinearConv with
 * per-channel scales exists since opset 10, so the model's opset does not change.
 *
 * Why: on a CPU with VNNI, int8 convolutions run much faster than fp32 (docs/performance.md has
 * the YOLOv4 stand-in's numbers). The output convolutions (YOLO heads) stay float, see
 * outputConvolutions; so, on request, do the few convolutions whose quantisation alone costs most
 * (`keepFloat`, ranked by onnx-sensitivity.ts). Accuracy must be checked per model:
 * test/slow/quantize.test.ts holds Yolo-Fastest to EXPECTED.md after quantisation, and
 * `npm run models:evaluate` compares an int8 copy with its float model (docs/model-evaluation.md).
 */

/** Bump when the quantised graph changes, so cached copies (the bench's) are rebuilt. */
export const QUANTIZE_VERSION = 1;

export interface ActivationRange {
  min: number;
  max: number;
}

const CONV = 'Conv';

const graphOutputs = (graph: { output?: ValueInfoMsg[] }) => (graph.output ?? []).map((o) => o.name ?? '');

function floatsOf(t: TensorMsg): Float32Array {
  const raw = t.raw_data;
  if (t.data_type !== DataType.FLOAT || !raw || raw.length === 0) {
    throw new Error(`initializer '${t.name ?? ''}' is not a float32 tensor with raw_data`);
  }
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
}

/** Convolutions with float32 weight initializers, except the output convolutions: the ones rewritten. */
function quantizableConvs(
  nodes: readonly NodeMsg[],
  initializers: ReadonlyMap<string, TensorMsg>,
  outputs: readonly string[],
): NodeMsg[] {
  const heads = outputConvolutions(nodes, outputs);
  return nodes.filter((n) => {
    if (heads.has(n)) return false;
    if (n.op_type !== CONV || (n.domain ?? '') !== '') return false;
    const isFloatInitializer = (name: string | undefined) => {
      const t = initializers.get(name ?? '');
      return t?.data_type === DataType.FLOAT && (t.raw_data?.length ?? 0) > 0;
    };
    const bias = n.input?.[2];
    return isFloatInitializer(n.input?.[1]) && (!bias || isFloatInitializer(bias));
  });
}

/**
 * The convolutions that produce the model's answers: reached from a graph output without passing
 * another convolution (YOLO heads, whose raw box offsets feed sigmoid/exp decoding). They stay
 * float: uint8 steps over a head's wide logit range cost box precision (measured: Yolo-Fastest's car
 * IoU with the reference box 0.72 quantised, against ≥ 0.75 required).
 */
export function outputConvolutions(nodes: readonly NodeMsg[], outputs: readonly string[]): Set<NodeMsg> {
  const producer = new Map<string, NodeMsg>();
  for (const n of nodes) for (const o of n.output ?? []) producer.set(o, n);
  const found = new Set<NodeMsg>();
  const seen = new Set<string>();
  const stack = [...outputs];
  while (stack.length > 0) {
    const name = stack.pop() ?? '';
    if (seen.has(name)) continue;
    seen.add(name);
    const node = producer.get(name);
    if (!node) continue;
    if (node.op_type === CONV) found.add(node);
    else stack.push(...(node.input ?? []));
  }
  return found;
}

/** The quantisable convolutions' inputs and outputs, in graph order, and the heads' outputs. */
export function convolutionTensors(bytes: Uint8Array): {
  convolutions: { input: string; output: string }[];
  heads: string[];
} {
  const graph = decodeModel(bytes).graph ?? {};
  const nodes = graph.node ?? [];
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  return {
    convolutions: quantizableConvs(nodes, initializers, graphOutputs(graph)).map((c) => ({
      input: c.input?.[0] ?? '',
      output: c.output?.[0] ?? '',
    })),
    heads: [...outputConvolutions(nodes, graphOutputs(graph))].map((c) => c.output?.[0] ?? ''),
  };
}

/**
 * The model with every quantisable convolution's input and output added to the graph outputs, so
 * one run reports the activations the quantiser needs ranges for (`names`).
 */
export function exposeConvTensors(bytes: Uint8Array): { bytes: Uint8Array; names: string[] } {
  const model = decodeModel(bytes);
  const graph = model.graph ?? {};
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const names = new Set<string>();
  for (const c of quantizableConvs(graph.node ?? [], initializers, graphOutputs(graph))) {
    names.add(c.input?.[0] ?? '');
    names.add(c.output?.[0] ?? '');
  }
  names.delete('');
  const outputs = new Set((graph.output ?? []).map((o) => o.name));
  const extra: ValueInfoMsg[] = [...names]
    .filter((n) => !outputs.has(n))
    .map((name) => ({ name, type: { tensor_type: { elem_type: DataType.FLOAT } } }));
  graph.output = [...(graph.output ?? []), ...extra];
  model.graph = graph;
  return { bytes: encodeModel(model), names: [...names] };
}

/** Widens `ranges` by what `values` (one calibration output) holds; 0 is always inside a range. */
export function accumulateRange(
  ranges: Map<string, ActivationRange>,
  name: string,
  values: Float32Array,
): void {
  const r = ranges.get(name) ?? { min: 0, max: 0 };
  for (const v of values) {
    if (!Number.isFinite(v)) continue; // an Inf would make every step infinite
    if (v < r.min) r.min = v;
    else if (v > r.max) r.max = v;
  }
  ranges.set(name, r);
}

/** uint8 scale and zero point covering [min, max] (which contains 0). */
export function activationQuantParams({ min, max }: ActivationRange): { scale: number; zeroPoint: number } {
  const scale = Math.max(max - min, 1e-8) / 255;
  return { scale, zeroPoint: Math.min(255, Math.max(0, Math.round(-min / scale))) };
}

/**
 * Symmetric int8 per output channel: `channels` = dims[0], scale = max |w| / 127 each, or
 * `minScales[c]` when larger (so that the channel's int32 bias does not overflow).
 */
export function quantizeWeightsPerChannel(
  weights: Float32Array,
  channels: number,
  minScales?: Float32Array,
): { values: Int8Array; scales: Float32Array } {
  const per = weights.length / channels;
  const values = new Int8Array(weights.length);
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const channel = weights.subarray(c * per, (c + 1) * per);
    let max = 0;
    for (const w of channel) max = Math.max(max, Math.abs(w));
    const scale = Math.max(max / 127, minScales?.[c] ?? 0, 1e-12);
    scales[c] = scale;
    channel.forEach((w, i) => (values[c * per + i] = Math.max(-127, Math.min(127, Math.round(w / scale)))));
  }
  return { values, scales };
}

const INT32_MAX = 2 ** 31 - 1;

/**
 * QLinearConv's bias: int32 at scale x_scale · w_scale[c], zero point 0. Returns the smallest
 * weight scale per channel that keeps it in range (a channel of zero weights would otherwise get
 * a tiny scale and its bias would overflow) and, given the final scales, the int32 values.
 */
export const biasWeightScaleFloor = (bias: Float32Array, xScale: number): Float32Array =>
  bias.map((b) => Math.abs(b) / (xScale * INT32_MAX));

export function quantizeBias(bias: Float32Array, xScale: number, weightScales: Float32Array): Int32Array {
  return Int32Array.from(bias, (b, c) =>
    Math.max(-INT32_MAX, Math.min(INT32_MAX, Math.round(b / (xScale * (weightScales[c] ?? 1))))),
  );
}

const tensor = (name: string, dataType: number, dims: number[], bytes: ArrayBufferView): TensorMsg => ({
  name,
  data_type: dataType,
  dims,
  raw_data: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
});

/**
 * Rewrites every quantisable convolution whose input and output have a range in `ranges` into
 * Quantize → QLinearConv → Dequantize (see the file comment); others stay float, and so do the
 * convolutions whose output is named in `keepFloat` (onnx-sensitivity.ts picks them). Returns the
 * new model and how many convolutions were quantised.
 */
export function quantizeConvs(
  bytes: Uint8Array,
  ranges: ReadonlyMap<string, ActivationRange>,
  keepFloat: ReadonlySet<string> = new Set(),
): { bytes: Uint8Array; quantized: number } {
  const model = decodeModel(bytes);
  const opset = (model.opset_import ?? []).find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx');
  if (!opset || toNumber(opset.version) < 10) {
    throw new Error('int8 convolutions (QLinearConv) need ONNX opset 10 or later');
  }
  const graph = model.graph ?? {};
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const convs = new Set(quantizableConvs(graph.node ?? [], initializers, graphOutputs(graph)));
  const added: TensorMsg[] = [];
  const replacedWeights = new Set<string>();
  const quantizedInputs = new Map<string, { q: string; scale: string; zeroPoint: string }>();
  const nodes: NodeMsg[] = [];
  let quantized = 0;

  const params = new Map<string, { scale: string; zeroPoint: string }>();
  /** One scale/zero-point pair per activation, whether a convolution reads or writes it. */
  const scalarParams = (name: string, range: ActivationRange) => {
    const known = params.get(name);
    if (known) return known;
    const { scale, zeroPoint } = activationQuantParams(range);
    added.push(tensor(`${name}/scale`, DataType.FLOAT, [], new Float32Array([scale])));
    added.push(tensor(`${name}/zero_point`, DataType.UINT8, [], new Uint8Array([zeroPoint])));
    const entry = { scale: `${name}/scale`, zeroPoint: `${name}/zero_point` };
    params.set(name, entry);
    return entry;
  };
  /** One QuantizeLinear per activation, shared by every convolution that reads it. */
  const quantizedInput = (name: string, range: ActivationRange) => {
    const known = quantizedInputs.get(name);
    if (known) return known;
    const q = `${name}/uint8`;
    const entry = { q, ...scalarParams(name, range) };
    nodes.push({
      op_type: 'QuantizeLinear',
      name: `${name}/Quantize`,
      input: [name, entry.scale, entry.zeroPoint],
      output: [q],
    });
    quantizedInputs.set(name, entry);
    return entry;
  };

  for (const node of graph.node ?? []) {
    const [x = '', w = '', b] = node.input ?? [];
    const y = node.output?.[0] ?? '';
    const xRange = ranges.get(x);
    const yRange = ranges.get(y);
    if (!convs.has(node) || !xRange || !yRange || keepFloat.has(y)) {
      nodes.push(node);
      continue;
    }
    // Named after the convolution's output (unique), so convolutions sharing a weight still get
    // their own tensors: the bias scale depends on each one's input scale.
    const weight = floatsOf(initializers.get(w) ?? {});
    const dims = (initializers.get(w)?.dims ?? []).map(toNumber);
    const channels = dims[0] ?? 1;
    const xScale = activationQuantParams(xRange).scale;
    const bias = b ? floatsOf(initializers.get(b) ?? {}) : null;
    const { values, scales } = quantizeWeightsPerChannel(
      weight,
      channels,
      bias ? biasWeightScaleFloor(bias, xScale) : undefined,
    );
    added.push(tensor(`${y}/weight_int8`, DataType.INT8, dims, values));
    added.push(tensor(`${y}/weight_scale`, DataType.FLOAT, [channels], scales));
    added.push(tensor(`${y}/weight_zero_point`, DataType.INT8, [channels], new Int8Array(channels)));
    replacedWeights.add(w);

    const input = quantizedInput(x, xRange);
    const output = scalarParams(y, yRange);
    const inputs = [input.q, input.scale, input.zeroPoint, `${y}/weight_int8`, `${y}/weight_scale`];
    inputs.push(`${y}/weight_zero_point`, output.scale, output.zeroPoint);
    if (b && bias) {
      added.push(
        tensor(`${y}/bias_int32`, DataType.INT32, [bias.length], quantizeBias(bias, xScale, scales)),
      );
      inputs.push(`${y}/bias_int32`);
      replacedWeights.add(b);
    }
    nodes.push({
      ...node,
      op_type: 'QLinearConv',
      name: `${node.name ?? y}/quantized`,
      input: inputs,
      output: [`${y}/conv_uint8`],
    });
    nodes.push({
      op_type: 'DequantizeLinear',
      name: `${y}/Dequantize`,
      input: [`${y}/conv_uint8`, output.scale, output.zeroPoint],
      output: [y],
    });
    quantized++;
  }
  // A float weight or bias another node still reads stays.
  const stillRead = new Set(nodes.flatMap((n) => n.input ?? []));
  graph.node = nodes;
  graph.initializer = [
    ...(graph.initializer ?? []).filter(
      (t) => !replacedWeights.has(t.name ?? '') || stillRead.has(t.name ?? ''),
    ),
    ...added,
  ];
  model.graph = graph;
  model.metadata_props = [
    ...(model.metadata_props ?? []),
    {
      key: 'int8_quantization',
      value: `form=qlinearconv-per-channel;convolutions=${quantized}${keepFloat.size > 0 ? `;kept_float=${keepFloat.size}` : ''}`,
    },
  ];
  return { bytes: encodeModel(model), quantized };
}

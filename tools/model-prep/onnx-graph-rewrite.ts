import { createHash } from 'node:crypto';
import { access, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import protobuf from 'protobufjs';
import {
  AttributeType,
  DataType,
  decodeNode,
  decodeTensor,
  encodeNode,
  encodeTensor,
  FIELD,
  type AttributeMsg,
  type NodeMsg,
  type TensorMsg,
  toNumber,
} from './onnx-proto';
import {
  PREPARED_MISH_FORM,
  PREPARED_VERSION,
  preparedCopyPath,
  type PreparedRecord,
} from '../../lambda/src/adapters/prepared-models';
import { writeAtomically } from '../../lambda/src/adapters/verified-write';
import { externalizeInitializers, hasExternalInitializers } from './onnx-external-data';
import {
  type Field,
  lengthDelimited,
  lengthHeader,
  readStringField,
  readVarintField,
  scanFields,
  tag,
  WireType,
} from './onnx-wire';

/**
 * Rewrites the zoo YOLOv4's Mish, written by tf2onnx as five nodes
 *
 *   y = Mul(x, Tanh(Log(Add(Exp(x), 1))))
 *
 * into an exact equivalent without Log, which onnxruntime's CPU kernel computes slowly (a large share
 * of YOLOv4's time on its own, docs/performance.md). The chain is found by pattern, not by node names.
 *
 * The model is edited on the protobuf wire format: only NodeProtos (and small constant tensors)
 * are decoded. Every other field — initializers (250 MB of raw_data), value_info, metadata,
 * fields this code does not know — is copied through byte for byte, so a model without the
 * pattern round-trips unchanged and nothing unknown is lost.
 */

/** What a Mish form builds its nodes with (one chain at a time). */
export interface MishNodeContext {
  /** The chain's input and output tensors. */
  x: string;
  y: string;
  /** A float constant with the matched 1's dims (so broadcasting and the output rank are unchanged). */
  constant: (value: number) => string;
  /** A fresh tensor name for an intermediate result. */
  tensor: (suffix: string) => string;
  /** A default-domain node with a fresh name. */
  node: (op: string, inputs: string[], output: string) => NodeMsg;
}

/** What a form may change in the rest of the graph once its chains are in place. */
export interface GraphEdit {
  /** The graph's nodes; set `replacement` to change one. */
  nodes: readonly { node: NodeMsg; replacement?: NodeMsg[] }[];
  fresh: (base: string) => string;
  addInitializer: (tensor: TensorMsg) => void;
}

/** A replacement for the Mish chain: y = Mish(x) = x·tanh(softplus(x)). */
export interface MishForm {
  /** Part of prepared copies' names, and of the metadata a rewritten model carries. */
  readonly name: string;
  nodes(ctx: MishNodeContext): NodeMsg[];
  /** Graph-wide changes the form needs; returns the default-domain opset to declare, if it changes. */
  adaptGraph?(graph: GraphEdit): number | undefined;
}

/**
 * The form the function's prepared copies use. With n = eˣ and t = n·(n+2),
 * tanh(ln(1+n)) = ((1+n)²−1)/((1+n)²+1) = t/(t+2) exactly, so y = x / (1 + 2/t): six ops, all in
 * the convolutions' layout. No guard is needed: for large x, t = inf gives 2/t = 0 and y = x; for
 * very negative x, t = 0 gives 2/t = inf and y = −0. The other forms compared in
 * bench/sections/mish.ts live in bench/lib/mish-forms.ts (docs/performance.md has the numbers).
 */
export const EXP_DIV: MishForm = {
  name: PREPARED_MISH_FORM,
  nodes: ({ x, y, constant, tensor, node }) => {
    const [one, two] = [constant(1), constant(2)];
    const [e, a, t, v, w] = ['exp', 'a', 't', 'v', 'w'].map(tensor) as [
      string,
      string,
      string,
      string,
      string,
    ];
    return [
      node('Exp', [x], e),
      node('Add', [e, two], a),
      node('Mul', [e, a], t),
      node('Div', [two, t], v),
      node('Add', [v, one], w),
      node('Div', [x, w], y),
    ];
  },
};

export interface RewriteResult {
  bytes: Uint8Array;
  /** Number of Mish chains replaced. */
  replaced: number;
}

/** A scalar (one-element) float32 constant's value, or null. */
function scalarFloat(t: TensorMsg): { value: number; dims: number[] } | null {
  const dims = (t.dims ?? []).map(toNumber);
  if (t.data_type !== DataType.FLOAT || dims.reduce((a, b) => a * b, 1) !== 1) return null;
  if (t.data_location === 1) return null; // external data
  let value: number | undefined;
  if (t.raw_data && t.raw_data.length === 4) {
    value = Buffer.from(t.raw_data.buffer, t.raw_data.byteOffset, 4).readFloatLE(0);
  } else if (t.float_data?.length === 1) {
    value = t.float_data[0];
  }
  return value === undefined ? null : { value, dims };
}

function int64Values(t: TensorMsg): number[] | null {
  if (t.data_type !== DataType.INT64) return null;
  if (t.raw_data) {
    const b = Buffer.from(t.raw_data.buffer, t.raw_data.byteOffset, t.raw_data.length);
    return Array.from({ length: b.length / 8 }, (_, i) => Number(b.readBigInt64LE(i * 8)));
  }
  return (t.int64_data ?? []).map(toNumber);
}

function floatTensor(name: string, value: number, dims: readonly number[]): TensorMsg {
  const raw = Buffer.alloc(4);
  raw.writeFloatLE(value);
  return { name, data_type: DataType.FLOAT, dims: [...dims], raw_data: raw };
}

const attr = (node: NodeMsg, name: string): AttributeMsg | undefined =>
  node.attribute?.find((a) => a.name === name);

/** Every tensor name a node (or its subgraphs) reads. */
function collectInputs(node: NodeMsg, into: (name: string) => void): void {
  for (const i of node.input ?? []) if (i) into(i);
  for (const a of node.attribute ?? []) {
    for (const g of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) {
      for (const n of g.node ?? []) collectInputs(n, into);
    }
  }
}

interface NodeEntry {
  field: Field;
  node: NodeMsg;
  /** Replacement nodes (for a chain's final Mul), or [] to drop the node. */
  replacement?: NodeMsg[];
}

/**
 * Finds every Mish chain and replaces it with `form`. Returns the pieces of the new model (views
 * into `bytes` plus small new buffers), so a caller can write them without one big copy.
 */
export function rewriteMishParts(
  bytes: Uint8Array,
  form: MishForm = EXP_DIV,
): { parts: Uint8Array[]; replaced: number } {
  const modelFields = scanFields(bytes);
  const graphField = modelFields.find((f) => f.field === FIELD.model.graph);
  if (!graphField) return { parts: [bytes], replaced: 0 };
  const graphFields = scanFields(bytes, graphField.dataStart, graphField.end);
  const view = (f: Field) => bytes.subarray(f.start, f.end);
  const payload = (f: Field) => bytes.subarray(f.dataStart, f.end);

  const nodes: NodeEntry[] = graphFields
    .filter((f) => f.field === FIELD.graph.node)
    .map((field) => ({ field, node: decodeNode(payload(field)) }));

  // Names in use (tensors and nodes), consumers per tensor, producer per tensor.
  const used = new Set<string>();
  const consumers = new Map<string, number>();
  const producer = new Map<string, NodeEntry>();
  const initializers = new Map<string, Field>();
  const graphInputs = new Set<string>();
  const removedTensors = new Set<string>();
  const droppedInitializers = new Set<string>();
  const irField = modelFields.find((f) => f.field === FIELD.model.irVersion);
  const irVersion = irField ? readVarintField(bytes, irField) : 0;
  for (const f of graphFields) {
    if (f.field === FIELD.graph.initializer) {
      const name = readStringField(bytes, f.dataStart, f.end, FIELD.tensor.name);
      if (name) {
        initializers.set(name, f);
        used.add(name);
      }
    } else if (f.field === FIELD.graph.output || f.field === FIELD.graph.input) {
      const name = readStringField(bytes, f.dataStart, f.end, FIELD.valueInfo.name);
      if (!name) continue;
      used.add(name);
      // A graph output counts as one more consumer: it can never be removed.
      if (f.field === FIELD.graph.output) consumers.set(name, (consumers.get(name) ?? 0) + 1);
      else graphInputs.add(name);
    }
  }
  for (const e of nodes) {
    if (e.node.name) used.add(e.node.name);
    for (const o of e.node.output ?? []) {
      used.add(o);
      producer.set(o, e);
    }
    collectInputs(e.node, (name) => {
      used.add(name);
      consumers.set(name, (consumers.get(name) ?? 0) + 1);
    });
  }
  const fresh = (base: string): string => {
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };

  const single = (tensor: string | undefined) => tensor !== undefined && consumers.get(tensor) === 1;
  /** The producer of `tensor` if it is a default-domain `op` with one output read only once. */
  const chainNode = (tensor: string | undefined, op: string): NodeEntry | null => {
    if (tensor === undefined || !single(tensor)) return null;
    const e = producer.get(tensor);
    if (!e || e.replacement || e.node.op_type !== op || (e.node.domain ?? '') !== '') return null;
    if ((e.node.output ?? []).length !== 1) return null;
    return e;
  };
  /** A constant initializer's decoded tensor (not one a caller may override as a graph input). */
  const initializer = (name: string): TensorMsg | null => {
    const f = initializers.get(name);
    if (!f || (irVersion >= 4 && graphInputs.has(name))) return null;
    return decodeTensor(payload(f));
  };
  /**
   * The value of a one-element float constant: an initializer, a Constant node, or an Identity or
   * Reshape of one (tf2onnx writes the Mish `1` as Reshape(1.0, [1,1,1,1]), shared by all 72).
   */
  const constantValue = (name: string, depth = 0): { value: number; dims: number[] } | null => {
    const init = initializer(name);
    if (init) return scalarFloat(init);
    const e = producer.get(name);
    if (!e || depth > 4 || (e.node.domain ?? '') !== '') return null;
    const inputs = e.node.input ?? [];
    switch (e.node.op_type) {
      case 'Constant': {
        const value = attr(e.node, 'value');
        if (value?.t) return scalarFloat(value.t);
        const vf = attr(e.node, 'value_float');
        return vf?.f !== undefined && vf.type === AttributeType.FLOAT ? { value: vf.f, dims: [] } : null;
      }
      case 'Identity':
        return inputs[0] ? constantValue(inputs[0], depth + 1) : null;
      case 'Reshape': {
        const data = inputs[0] ? constantValue(inputs[0], depth + 1) : null;
        const shapeTensor = inputs[1] ? initializer(inputs[1]) : null;
        const shape = shapeTensor && int64Values(shapeTensor);
        if (!data || !shape || toNumber(attr(e.node, 'allowzero')?.i) === 1) return null;
        const dims = shape.map((d, i) => (d === -1 ? 1 : d === 0 ? (data.dims[i] ?? 0) : d));
        return dims.every((d) => d === 1) ? { value: data.value, dims } : null;
      }
      default:
        return null;
    }
  };
  /** One reader fewer for `name`; drops the constant-making nodes nothing reads any more. */
  const release = (name: string): void => {
    const left = (consumers.get(name) ?? 1) - 1;
    consumers.set(name, left);
    if (left > 0) return;
    const e = producer.get(name);
    if (!e) {
      if (initializers.has(name) && !graphInputs.has(name)) droppedInitializers.add(name);
      return;
    }
    if (e.replacement || !['Constant', 'Identity', 'Reshape'].includes(e.node.op_type ?? '')) return;
    if ((e.node.output ?? []).some((o) => (consumers.get(o) ?? 0) > 0)) return;
    e.replacement = [];
    for (const o of e.node.output ?? []) removedTensors.add(o);
    for (const i of e.node.input ?? []) if (i) release(i);
  };

  const newInitializers = new Map<string, TensorMsg>();
  const constant = (value: number, dims: readonly number[]): string => {
    const key = `${value}@${dims.join('x')}`;
    const existing = newInitializers.get(key);
    if (existing?.name) return existing.name;
    const name = fresh(
      `mish_rewrite/const_${String(value).replace('.', 'p')}${dims.length ? `_${dims.join('x')}` : ''}`,
    );
    newInitializers.set(key, floatTensor(name, value, dims));
    return name;
  };

  let replaced = 0;
  for (const mul of nodes) {
    const m = mul.node;
    if (m.op_type !== 'Mul' || (m.domain ?? '') !== '' || m.input?.length !== 2 || m.output?.length !== 1)
      continue;
    for (const [xi, ti] of [
      [0, 1],
      [1, 0],
    ] as const) {
      const x = m.input[xi];
      const tanh = chainNode(m.input[ti], 'Tanh');
      const log = tanh && chainNode(tanh.node.input?.[0], 'Log');
      const add = log && chainNode(log.node.input?.[0], 'Add');
      if (!x || !add || add.node.input?.length !== 2) continue;
      let exp: NodeEntry | null = null;
      let one: { value: number; dims: number[]; name: string } | null = null;
      for (const [ei, ci] of [
        [0, 1],
        [1, 0],
      ] as const) {
        const candidate = chainNode(add.node.input[ei], 'Exp');
        const constName = add.node.input[ci] ?? '';
        const c = constantValue(constName);
        if (candidate && candidate.node.input?.[0] === x && c?.value === 1) {
          exp = candidate;
          one = { ...c, name: constName };
          break;
        }
      }
      const y = m.output[0];
      if (!exp || !one || !y) continue;

      const base = m.name || y;
      const dims = one.dims;
      const replacement = form.nodes({
        x,
        y,
        constant: (value) => constant(value, dims),
        tensor: (suffix) => fresh(`${base}/mish_${suffix}`),
        node: (op, inputs, output) => ({
          op_type: op,
          input: inputs,
          output: [output],
          name: fresh(`${base}/mish_rewrite/${op}`),
        }),
      });
      mul.replacement = replacement;
      for (const e of [tanh, log, add, exp]) {
        e.replacement = [];
        for (const o of e.node.output ?? []) removedTensors.add(o);
      }
      release(one.name);
      replaced++;
      break;
    }
  }
  if (replaced === 0) return { parts: [bytes], replaced: 0 };

  let opsetBump: Uint8Array | null = null;
  let opsetBumped = false;
  const opset = form.adaptGraph?.({
    nodes,
    fresh,
    addInitializer: (t) => newInitializers.set(t.name ?? fresh('mish_rewrite/initializer'), t),
  });
  if (opset !== undefined) {
    const w = protobuf.Writer.create();
    w.uint32(tag(FIELD.model.opsetImport, WireType.LENGTH_DELIMITED)).fork();
    w.uint32(tag(FIELD.opset.version, WireType.VARINT)).int64(opset);
    w.ldelim();
    opsetBump = w.finish();
  }

  // Re-emit the graph: nodes in their original places, the replacements where each Mul was, new
  // initializers after the last existing one, stale value_info for removed tensors dropped.
  const graphParts: Uint8Array[] = [];
  const lastInit = graphFields.filter((f) => f.field === FIELD.graph.initializer).at(-1);
  const newInitParts = [...newInitializers.values()].map((t) =>
    lengthDelimited(FIELD.graph.initializer, encodeTensor(t)),
  );
  const byField = new Map(nodes.map((e) => [e.field.start, e]));
  for (const f of graphFields) {
    const entry = byField.get(f.start);
    if (entry?.replacement) {
      for (const node of entry.replacement)
        graphParts.push(lengthDelimited(FIELD.graph.node, encodeNode(node)));
    } else if (f.field === FIELD.graph.initializer && droppedInitializers.size > 0) {
      const name = readStringField(bytes, f.dataStart, f.end, FIELD.tensor.name);
      if (!name || !droppedInitializers.has(name)) graphParts.push(view(f));
    } else if (f.field === FIELD.graph.valueInfo) {
      const name = readStringField(bytes, f.dataStart, f.end, FIELD.valueInfo.name);
      if (!name || !removedTensors.has(name)) graphParts.push(view(f));
    } else {
      graphParts.push(view(f));
    }
    if (f === lastInit) graphParts.push(...newInitParts);
  }
  if (!lastInit) graphParts.push(...newInitParts);
  const graphLength = graphParts.reduce((s, p) => s + p.length, 0);

  const parts: Uint8Array[] = [];
  for (const f of modelFields) {
    if (f.field === FIELD.model.graph) {
      parts.push(lengthHeader(FIELD.model.graph, graphLength), ...graphParts);
    } else if (opsetBump && f.field === FIELD.model.opsetImport) {
      const domain = readStringField(bytes, f.dataStart, f.end, FIELD.opset.domain) ?? '';
      if (domain !== '' && domain !== 'ai.onnx') parts.push(view(f));
      else if (!opsetBumped) {
        parts.push(opsetBump);
        opsetBumped = true;
      }
    } else if (opsetBump && f.field === FIELD.model.irVersion) {
      const version = readVarintField(bytes, f);
      parts.push(
        version >= 8
          ? view(f)
          : protobuf.Writer.create().uint32(tag(FIELD.model.irVersion, WireType.VARINT)).int64(8).finish(),
      );
    } else {
      parts.push(view(f));
    }
  }
  // Record what was done, for anyone inspecting the file (ModelProto.metadata_props).
  const meta = protobuf.Writer.create();
  meta.uint32(tag(FIELD.entry.key, WireType.LENGTH_DELIMITED)).string('mish_rewrite');
  meta
    .uint32(tag(FIELD.entry.value, WireType.LENGTH_DELIMITED))
    .string(`form=${form.name};replaced=${replaced};version=${PREPARED_VERSION}`);
  parts.push(lengthDelimited(FIELD.model.metadataProps, meta.finish()));
  return { parts, replaced };
}

/** Replaces every Mish chain in an ONNX model; returns the original bytes when there is none. */
export function rewriteMish(bytes: Uint8Array, form: MishForm = EXP_DIV): RewriteResult {
  const { parts, replaced } = rewriteMishParts(bytes, form);
  if (replaced === 0) return { bytes, replaced };
  return { bytes: Buffer.concat(parts), replaced };
}

export interface PreparedModel {
  /** The file to load: the prepared copy, or the source when there was nothing to change. */
  file: string;
  /** Number of Mish chains replaced. */
  replaced: number;
  /** Number of initializers moved to the external weights file (`<file>.data`). */
  externalTensors: number;
  /** True when the copy was made earlier (or the source was already known to need none). */
  cached: boolean;
  /** Why the source is returned after a failure (unparseable model, full or read-only disk). */
  error?: string;
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

interface Sidecar extends PreparedRecord {
  replaced?: number;
  externalTensors?: number;
}

const sha256Of = (parts: readonly Uint8Array[]) => {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  return hash.digest('hex');
};

/**
 * Prepares `sourceFile` once for fast loading into the copy the function looks up
 * (lambda/src/adapters/prepared-models.ts; + `.data`, the weights), keyed by the
 * source's sha256 (or its size and mtime when no checksum is known), and returns the path to
 * load. Two changes, both exact: every Mish chain rewritten (see rewriteMishParts), and the large
 * initializers moved into an external weights file that onnxruntime maps instead of copying (see
 * externalizeInitializers). A model with neither leaves a small `.none` marker, so it is not read
 * again on the next start. Writes go through temporary files and renames, weights before the
 * model that refers to them, so concurrent processes never see a half-written model. Any failure
 * falls back to the source file (with `error` set): preparing is an optimisation, never a reason
 * not to serve.
 *
 * Costs on first use: reading and parsing the source, and writing a copy of the same size into
 * the prepared-copies folder.
 */
export async function prepareModel(
  sourceFile: string,
  sha256: string | null,
  preparedDir: string,
  form: MishForm = EXP_DIV,
): Promise<PreparedModel> {
  const fallback = (e: unknown, cached = false): PreparedModel => ({
    file: sourceFile,
    replaced: 0,
    externalTensors: 0,
    cached,
    ...(e === undefined ? {} : { error: (e as Error).message }),
  });
  let out: string;
  try {
    const { size, mtimeMs } = await stat(sourceFile);
    out = preparedCopyPath(preparedDir, sourceFile, { sha256, size, mtimeMs }, form.name);
  } catch (e) {
    return fallback(e);
  }
  const none = `${out}.none`;
  const weights = `${out}.data`;
  if (await exists(out)) {
    let sidecar: Sidecar = {};
    try {
      sidecar = JSON.parse(await readFile(`${out}.json`, 'utf8')) as Sidecar;
    } catch {
      // No record: made again below, with one.
    }
    // A copy without the checksums the function verifies is made again (older tool, cut write).
    if (sidecar.sha256?.model) {
      return {
        file: out,
        replaced: sidecar.replaced ?? 0,
        externalTensors: sidecar.externalTensors ?? 0,
        cached: true,
      };
    }
  }
  if (await exists(none)) return fallback(undefined, true);
  let parts: Uint8Array[];
  let dataParts: Uint8Array[];
  let replaced: number;
  let externalTensors: number;
  try {
    const source = await readFile(sourceFile);
    if (hasExternalInitializers(source)) {
      // Its weights are found relative to the source's folder: a copy elsewhere would lose them.
      await writeAtomically(none, []);
      return fallback(undefined);
    }
    const external = externalizeInitializers(source, path.basename(weights));
    externalTensors = external.tensors;
    dataParts = external.dataParts;
    const model = externalTensors > 0 ? Buffer.concat(external.modelParts) : source;
    ({ parts, replaced } = rewriteMishParts(model, form));
  } catch (e) {
    return fallback(e);
  }
  try {
    if (replaced === 0 && externalTensors === 0) {
      await writeAtomically(none, []);
      return fallback(undefined);
    }
    const record: Sidecar & { source: string; sourceSha256: string | null; form: string } = {
      source: path.basename(sourceFile),
      sourceSha256: sha256,
      form: form.name,
      replaced,
      externalTensors,
      sha256: { model: sha256Of(parts), ...(externalTensors > 0 ? { data: sha256Of(dataParts) } : {}) },
    };
    // The weights before the model that refers to them; the record that vouches for both last.
    if (externalTensors > 0) await writeAtomically(weights, dataParts);
    await writeAtomically(out, parts);
    await writeAtomically(`${out}.json`, JSON.stringify(record));
    return { file: out, replaced, externalTensors, cached: false };
  } catch (e) {
    return fallback(e);
  }
}

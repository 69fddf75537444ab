/**
 * Writes tiny synthetic ONNX models with protobufjs' Writer (no Python, no onnx package), for tests
 * that need a real onnxruntime session with exact I/O names and shapes but chosen output values.
 *
 * Field numbers come from onnx.proto (toolchain-facts §4). The graph built by
 * `writeConstantOutputModel` is, for every output k:
 *
 *   zero   = Mul(ReduceMean(input, axes=[1..r-1], keepdims=1), 0)      # [N,1,…,1], all zeros
 *   out_k  = Add(C_k, Reshape(zero, [-1,1,…,1]))                       # C_k broadcast over N
 *
 * so the input stays a real graph input (its name, dtype and symbolic dims show up in the
 * session's inputMetadata) while each output equals the constant C_k whatever the pixels are.
 */
import { writeFileSync } from 'node:fs';
import { Writer } from 'protobufjs';

/** A dimension: a fixed size, or a symbolic name (ONNX `dim_param`) such as 'unk__2104'. */
export type Dim = number | string;

export interface ConstantOutput {
  name: string;
  /** A leading symbolic dim follows the input's batch; every other dim must be a number. */
  dims: readonly Dim[];
  /** Row-major values for the dims with the symbolic batch taken as 1. */
  data: Float32Array;
}

export interface ConstantOutputModel {
  /** A float32 tensor input. */
  input: { name: string; dims: readonly Dim[] };
  outputs: readonly ConstantOutput[];
  /** Defaults: ir_version 8, opset 13. */
  irVersion?: number;
  opset?: number;
}

// onnx.proto enum values.
const ELEM_FLOAT = 1;
const ELEM_INT64 = 7;
const ATTR_INT = 2;
const ATTR_INTS = 7;

const WIRE_VARINT = 0;
const WIRE_LEN = 2;

type Body = (w: Writer) => void;

const tag = (w: Writer, field: number, wire: number) => w.uint32((field << 3) | wire);
const str = (w: Writer, field: number, s: string) => tag(w, field, WIRE_LEN).string(s);
const i64 = (w: Writer, field: number, v: number) => tag(w, field, WIRE_VARINT).int64(v);
const bytes = (w: Writer, field: number, b: Uint8Array) => tag(w, field, WIRE_LEN).bytes(b);
const msg = (w: Writer, field: number, body: Body) => {
  tag(w, field, WIRE_LEN).fork();
  body(w);
  w.ldelim();
};

/** TypeProto { tensor_type { elem_type, shape { dim { dim_value | dim_param } } } } */
function valueInfo(w: Writer, field: number, name: string, elemType: number, dims: readonly Dim[]): void {
  msg(w, field, (v) => {
    str(v, 1, name);
    msg(v, 2, (t) => {
      msg(t, 1, (tt) => {
        i64(tt, 1, elemType);
        msg(tt, 2, (shape) => {
          for (const d of dims) {
            msg(shape, 1, (dim) => {
              if (typeof d === 'number') i64(dim, 1, d);
              else str(dim, 2, d);
            });
          }
        });
      });
    });
  });
}

function tensor(
  w: Writer,
  field: number,
  name: string,
  elemType: number,
  dims: readonly number[],
  raw: Uint8Array,
) {
  msg(w, field, (t) => {
    for (const d of dims) i64(t, 1, d);
    i64(t, 2, elemType);
    str(t, 8, name);
    bytes(t, 9, raw);
  });
}

type Attr = { name: string; int: number } | { name: string; ints: readonly number[] };

function node(w: Writer, op: string, name: string, inputs: string[], outputs: string[], attrs: Attr[] = []) {
  msg(w, 1, (n) => {
    for (const i of inputs) str(n, 1, i);
    for (const o of outputs) str(n, 2, o);
    str(n, 3, name);
    str(n, 4, op);
    for (const a of attrs) {
      msg(n, 5, (at) => {
        str(at, 1, a.name);
        if ('int' in a) {
          i64(at, 3, a.int);
          i64(at, 20, ATTR_INT);
        } else {
          for (const v of a.ints) i64(at, 8, v);
          i64(at, 20, ATTR_INTS);
        }
      });
    }
  });
}

/** Little-endian bytes of typed-array values (raw_data is always little-endian). */
function leBytes(values: Float32Array | BigInt64Array): Uint8Array {
  const bytesPer = values.BYTES_PER_ELEMENT;
  const out = new Uint8Array(values.length * bytesPer);
  const view = new DataView(out.buffer);
  values.forEach((v: number | bigint, i: number) => {
    if (typeof v === 'bigint') view.setBigInt64(i * bytesPer, v, true);
    else view.setFloat32(i * bytesPer, v, true);
  });
  return out;
}

/** Dims of the constant for an output: a symbolic batch becomes 1 and is broadcast at run time. */
function constantDims(output: ConstantOutput): number[] {
  return output.dims.map((d, i) => {
    if (typeof d === 'number') return d;
    if (i === 0) return 1;
    throw new Error(`output '${output.name}': only the leading dim may be symbolic, got '${d}' at ${i}`);
  });
}

/** Serialises the model described above; returns the ModelProto bytes. */
export function buildConstantOutputModel(spec: ConstantOutputModel): Uint8Array {
  const { input, outputs } = spec;
  if (input.dims.length < 1) throw new Error('the input needs at least one dim');
  for (const o of outputs) {
    const n = constantDims(o).reduce((a, b) => a * b, 1);
    if (o.data.length !== n) throw new Error(`output '${o.name}': ${o.data.length} values for ${n} elements`);
  }
  const reduceAxes = input.dims.map((_, i) => i).slice(1);
  const w = Writer.create();
  i64(w, 1, spec.irVersion ?? 8); // ir_version
  str(w, 2, 'onnx-builder (test support)'); // producer_name
  msg(w, 7, (g) => {
    // graph
    if (reduceAxes.length > 0) {
      node(
        g,
        'ReduceMean',
        'mean',
        [input.name],
        ['__mean'],
        [
          { name: 'axes', ints: reduceAxes },
          { name: 'keepdims', int: 1 },
        ],
      );
    } else {
      node(g, 'Identity', 'mean', [input.name], ['__mean']);
    }
    node(g, 'Mul', 'zero', ['__mean', '__zero_scalar'], ['__zero']);
    outputs.forEach((o, k) => {
      node(g, 'Reshape', `reshape_${k}`, ['__zero', `__shape_${k}`], [`__zero_${k}`]);
      node(g, 'Add', `add_${k}`, [`__const_${k}`, `__zero_${k}`], [o.name]);
    });
    str(g, 2, 'constant_outputs');
    tensor(g, 5, '__zero_scalar', ELEM_FLOAT, [], leBytes(new Float32Array([0])));
    outputs.forEach((o, k) => {
      const dims = constantDims(o);
      tensor(g, 5, `__const_${k}`, ELEM_FLOAT, dims, leBytes(o.data));
      const shape = BigInt64Array.from(dims.map((_, i) => (i === 0 ? -1n : 1n)));
      tensor(g, 5, `__shape_${k}`, ELEM_INT64, [dims.length], leBytes(shape));
    });
    valueInfo(g, 11, input.name, ELEM_FLOAT, input.dims);
    for (const o of outputs) valueInfo(g, 12, o.name, ELEM_FLOAT, o.dims);
  });
  msg(w, 8, (op) => {
    // opset_import { domain "" , version }
    str(op, 1, '');
    i64(op, 2, spec.opset ?? 13);
  });
  return w.finish();
}

/** Writes the model to `file`. */
export function writeConstantOutputModel(file: string, spec: ConstantOutputModel): void {
  writeFileSync(file, buildConstantOutputModel(spec));
}

/**
 * Just enough of the ONNX protobuf wire format to write the stand-ins, by hand so the generator
 * needs nothing but Node. A message is a list of Buffers rather than one Buffer: the hundreds of
 * megabytes of raw_data are never copied, only streamed to disk part by part.
 */

const TWO64 = 1n << 64n;

function varint(value: number | bigint): Buffer {
  let n = typeof value === 'bigint' ? value : BigInt(value);
  if (n < 0n) n += TWO64; // protobuf int64: negatives are ten-byte two's complement
  const out: number[] = [];
  while (n >= 0x80n) {
    out.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  out.push(Number(n));
  return Buffer.from(out);
}

export class Msg {
  readonly parts: Buffer[] = [];
  length = 0;

  private push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }
  private key(field: number, wireType: number): void {
    this.push(varint((field << 3) | wireType));
  }
  int(field: number, v: number | bigint): this {
    this.key(field, 0);
    this.push(varint(v));
    return this;
  }
  float(field: number, x: number): this {
    this.key(field, 5);
    const b = Buffer.alloc(4);
    b.writeFloatLE(x);
    this.push(b);
    return this;
  }
  bytes(field: number, buf: Buffer): this {
    this.key(field, 2);
    this.push(varint(buf.length));
    if (buf.length) this.push(buf);
    return this;
  }
  str(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }
  msg(field: number, m: Msg): this {
    this.key(field, 2);
    this.push(varint(m.length));
    for (const p of m.parts) this.push(p);
    return this;
  }
}

/** TensorProto.DataType values (onnx.proto). */
export const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;
export type DataType = (typeof DT)[keyof typeof DT];

export type Attr =
  | { kind: 'float' | 'int'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'floats' | 'ints'; value: readonly number[] };

export const attr = {
  int: (value: number): Attr => ({ kind: 'int', value }),
  float: (value: number): Attr => ({ kind: 'float', value }),
  string: (value: string): Attr => ({ kind: 'string', value }),
  ints: (value: readonly number[]): Attr => ({ kind: 'ints', value }),
};

// AttributeProto: name 1, f 2, i 3, s 4, floats 7, ints 8, type 20.
function attrMsg(name: string, a: Attr): Msg {
  const m = new Msg().str(1, name);
  switch (a.kind) {
    case 'float':
      return m.float(2, a.value).int(20, 1);
    case 'int':
      return m.int(3, a.value).int(20, 2);
    case 'string':
      return m.str(4, a.value).int(20, 3);
    case 'floats':
      for (const x of a.value) m.float(7, x);
      return m.int(20, 6);
    case 'ints':
      for (const x of a.value) m.int(8, x);
      return m.int(20, 7);
  }
}

/** A dimension is a number or a symbolic name (dim_param) such as the batch `N`. */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  dataType: DataType;
  dims: readonly Dim[];
}

function valueInfoMsg({ name, dataType, dims }: ValueInfo): Msg {
  const shape = new Msg();
  for (const d of dims) shape.msg(1, typeof d === 'string' ? new Msg().str(2, d) : new Msg().int(1, d));
  const tensorType = new Msg().int(1, dataType).msg(2, shape);
  return new Msg().str(1, name).msg(2, new Msg().msg(1, tensorType));
}

/**
 * mulberry32 seeded by FNV-1a of the tensor name and the global seed: a tensor's values depend on
 * its name and the seed only, so reordering the builders does not change the weights.
 */
export function seededRandom(name: string, seed: number): () => number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  let a = ((h >>> 0) ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const bytesOf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

interface Node {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attrs: Record<string, Attr>;
  name: string;
  domain?: string;
}

interface Initializer {
  name: string;
  dataType: DataType;
  dims: readonly number[];
  raw: Buffer;
}

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** A graph under construction, with the parameter and MAC counts the CLI reports. */
export class Graph {
  readonly nodes: Node[] = [];
  readonly initializers: Initializer[] = [];
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  readonly valueInfo: ValueInfo[] = [];
  params = 0;
  storedWeights = 0;
  macs = 0;
  private readonly nodeNames = new Set<string>();

  constructor(
    readonly name: string,
    readonly seed: number,
  ) {}

  /** Adds a node and returns its first output. Node names follow the first output, made unique. */
  node(
    op: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attrs: Record<string, Attr> = {},
    options: { name?: string; domain?: string } = {},
  ): string {
    const first = outputs[0]!;
    let name = options.name ?? first.replace(/:0$/, '');
    while (this.nodeNames.has(name)) name += '_';
    this.nodeNames.add(name);
    this.nodes.push({ op, inputs, outputs, attrs, name, domain: options.domain });
    return first;
  }

  initializer(
    name: string,
    dataType: DataType,
    dims: readonly number[],
    raw: Buffer,
    isWeight = false,
  ): string {
    this.initializers.push({ name, dataType, dims, raw });
    if (isWeight) {
      const n = product(dims);
      this.storedWeights += n;
      // BatchNorm running statistics are buffers, not trained parameters.
      if (!/running_(mean|var)$/.test(name)) this.params += n;
    }
    return name;
  }

  /** A float weight, uniform in [center - halfRange, center + halfRange]. */
  uniform(name: string, dims: readonly number[], halfRange: number, center = 0): string {
    const random = seededRandom(name, this.seed);
    const values = new Float32Array(product(dims));
    for (let i = 0; i < values.length; i++) values[i] = center + (2 * random() - 1) * halfRange;
    return this.initializer(name, DT.FLOAT, dims, bytesOf(values), true);
  }

  constFloat(name: string, dims: readonly number[], values: readonly number[]): string {
    return this.initializer(name, DT.FLOAT, dims, bytesOf(Float32Array.from(values)));
  }
  constInt64(name: string, dims: readonly number[], values: readonly number[]): string {
    return this.initializer(name, DT.INT64, dims, bytesOf(BigInt64Array.from(values, BigInt)));
  }
  constInt32(name: string, dims: readonly number[], values: readonly number[]): string {
    return this.initializer(name, DT.INT32, dims, bytesOf(Int32Array.from(values)));
  }
  constUint8(name: string, dims: readonly number[], values: readonly number[]): string {
    return this.initializer(name, DT.UINT8, dims, bytesOf(Uint8Array.from(values)));
  }
  constInt8(name: string, dims: readonly number[], values: readonly number[]): string {
    return this.initializer(name, DT.INT8, dims, bytesOf(Int8Array.from(values)));
  }

  // GraphProto: node 1, name 2, initializer 5, input 11, output 12, value_info 13.
  toMsg(): Msg {
    const g = new Msg();
    for (const n of this.nodes) {
      const m = new Msg();
      for (const i of n.inputs) m.str(1, i);
      for (const o of n.outputs) m.str(2, o);
      m.str(3, n.name).str(4, n.op);
      for (const [k, a] of Object.entries(n.attrs)) m.msg(5, attrMsg(k, a));
      if (n.domain) m.str(7, n.domain);
      g.msg(1, m);
    }
    g.str(2, this.name);
    for (const t of this.initializers) {
      const m = new Msg();
      for (const d of t.dims) m.int(1, d);
      g.msg(5, m.int(2, t.dataType).str(8, t.name).bytes(9, t.raw));
    }
    for (const v of this.inputs) g.msg(11, valueInfoMsg(v));
    for (const v of this.outputs) g.msg(12, valueInfoMsg(v));
    for (const v of this.valueInfo) g.msg(13, valueInfoMsg(v));
    return g;
  }
}

export interface ModelSpec {
  graph: Graph;
  irVersion: number;
  /** [domain, version]; '' is the default ai.onnx domain. */
  opsets: readonly (readonly [string, number])[];
}

// ModelProto: ir_version 1, producer_name 2, producer_version 3, model_version 5, doc_string 6,
// graph 7, opset_import 8, metadata_props 14.
export function modelMsg(
  { graph, irVersion, opsets }: ModelSpec,
  meta: { producer: string; doc: string; metadata: Record<string, string> },
): Msg {
  const m = new Msg()
    .int(1, irVersion)
    .str(2, meta.producer)
    .str(3, '1')
    .int(5, 1)
    .str(6, meta.doc)
    .msg(7, graph.toMsg());
  for (const [domain, version] of opsets) m.msg(8, new Msg().str(1, domain).int(2, version));
  for (const [key, value] of Object.entries(meta.metadata)) m.msg(14, new Msg().str(1, key).str(2, value));
  return m;
}

import path from 'node:path';
import protobuf from 'protobufjs';

/** onnx.proto's subset (onnx.proto beside this file), loaded once by protobufjs reflection. */
const root = new protobuf.Root().loadSync(path.join(__dirname, 'onnx.proto'), { keepCase: true });

export const ModelProto = root.lookupType('onnx.ModelProto');
export const GraphProto = root.lookupType('onnx.GraphProto');
export const NodeProto = root.lookupType('onnx.NodeProto');
export const TensorProto = root.lookupType('onnx.TensorProto');
export const ValueInfoProto = root.lookupType('onnx.ValueInfoProto');
export const OperatorSetIdProto = root.lookupType('onnx.OperatorSetIdProto');

/** int64 fields decode as Long (protobufjs finds the `long` package) or number. */
export type Int64 = number | { toNumber(): number };
export const toNumber = (v: Int64 | null | undefined): number =>
  v == null ? 0 : typeof v === 'number' ? v : v.toNumber();

/** The numbers of an enum of onnx.proto, by name. */
function enumValues<const K extends string>(name: string, keys: readonly K[]): Readonly<Record<K, number>> {
  const values = root.lookupEnum(name).values;
  return Object.fromEntries(
    keys.map((k) => {
      const v = values[k];
      if (v === undefined) throw new Error(`${name} has no ${k}`);
      return [k, v];
    }),
  ) as Record<K, number>;
}

/** A field's number in onnx.proto. */
function fieldNumber(type: protobuf.Type, name: string): number {
  const field = type.fields[name];
  if (!field) throw new Error(`${type.fullName} has no field ${name}`);
  return field.id;
}

export const DataType = enumValues('onnx.TensorProto.DataType', [
  'FLOAT', 'UINT8', 'INT8', 'INT32', 'INT64', 'DOUBLE', 'FLOAT16',
] as const); // prettier-ignore
export const DataLocation = enumValues('onnx.TensorProto.DataLocation', ['DEFAULT', 'EXTERNAL'] as const);
export const AttributeType = enumValues('onnx.AttributeProto.AttributeType', [
  'FLOAT', 'INT', 'STRING', 'TENSOR', 'FLOATS', 'INTS',
] as const); // prettier-ignore

const StringStringEntryProto = root.lookupType('onnx.StringStringEntryProto');

/** The field numbers the wire-level code (onnx-wire.ts and its users) reads and writes. */
export const FIELD = {
  model: {
    irVersion: fieldNumber(ModelProto, 'ir_version'),
    graph: fieldNumber(ModelProto, 'graph'),
    opsetImport: fieldNumber(ModelProto, 'opset_import'),
    metadataProps: fieldNumber(ModelProto, 'metadata_props'),
  },
  graph: {
    node: fieldNumber(GraphProto, 'node'),
    initializer: fieldNumber(GraphProto, 'initializer'),
    input: fieldNumber(GraphProto, 'input'),
    output: fieldNumber(GraphProto, 'output'),
    valueInfo: fieldNumber(GraphProto, 'value_info'),
  },
  tensor: {
    name: fieldNumber(TensorProto, 'name'),
    rawData: fieldNumber(TensorProto, 'raw_data'),
    externalData: fieldNumber(TensorProto, 'external_data'),
    dataLocation: fieldNumber(TensorProto, 'data_location'),
  },
  valueInfo: { name: fieldNumber(ValueInfoProto, 'name') },
  opset: {
    domain: fieldNumber(OperatorSetIdProto, 'domain'),
    version: fieldNumber(OperatorSetIdProto, 'version'),
  },
  entry: {
    key: fieldNumber(StringStringEntryProto, 'key'),
    value: fieldNumber(StringStringEntryProto, 'value'),
  },
} as const;

export interface TensorMsg {
  dims?: Int64[];
  data_type?: number;
  float_data?: number[];
  int32_data?: number[];
  int64_data?: Int64[];
  double_data?: number[];
  name?: string;
  raw_data?: Uint8Array;
  data_location?: number;
}

export interface AttributeMsg {
  name?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorMsg;
  floats?: number[];
  ints?: Int64[];
  /** Subgraphs (If, Loop, Scan bodies). */
  g?: GraphMsg;
  graphs?: GraphMsg[];
}

export interface NodeMsg {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute?: AttributeMsg[];
  doc_string?: string;
}

export interface OpsetMsg {
  domain?: string;
  version?: Int64;
}

export interface ValueInfoMsg {
  name?: string;
  type?: {
    tensor_type?: {
      elem_type?: number;
      shape?: { dim?: { dim_value?: Int64; dim_param?: string }[] };
    };
  };
}

export interface GraphMsg {
  node?: NodeMsg[];
  name?: string;
  initializer?: TensorMsg[];
  input?: ValueInfoMsg[];
  output?: ValueInfoMsg[];
  value_info?: ValueInfoMsg[];
}

export interface ModelMsg {
  ir_version?: Int64;
  opset_import?: OpsetMsg[];
  producer_name?: string;
  producer_version?: string;
  graph?: GraphMsg;
  metadata_props?: { key?: string; value?: string }[];
}

export const decodeNode = (bytes: Uint8Array): NodeMsg => NodeProto.decode(bytes) as unknown as NodeMsg;
export const encodeNode = (node: NodeMsg): Uint8Array =>
  NodeProto.encode(NodeProto.fromObject(node)).finish();
export const decodeTensor = (bytes: Uint8Array): TensorMsg =>
  TensorProto.decode(bytes) as unknown as TensorMsg;
export const encodeTensor = (t: TensorMsg): Uint8Array =>
  TensorProto.encode(TensorProto.fromObject(t)).finish();
export const decodeModel = (bytes: Uint8Array): ModelMsg => ModelProto.decode(bytes) as unknown as ModelMsg;
export const encodeModel = (m: ModelMsg): Uint8Array => ModelProto.encode(ModelProto.fromObject(m)).finish();

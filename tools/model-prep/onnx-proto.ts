import protobuf from 'protobufjs';

/**
 * A subset of onnx.proto (IR 10, proto2) for protobufjs reflection: every message and field these
 * models use, with onnx.proto's field numbers. Fields not listed here (training_info, newer
 * additions) are skipped by protobufjs' decoder, so code that must keep them byte for byte works on
 * the wire format instead (see onnx-graph-rewrite.ts, which only decodes nodes and re-emits every
 * other field untouched).
 */
const ONNX_SUBSET = `
syntax = "proto2";
package onnx;

message StringStringEntryProto { optional string key = 1; optional string value = 2; }

message OperatorSetIdProto { optional string domain = 1; optional int64 version = 2; }

message TensorProto {
  message Segment { optional int64 begin = 1; optional int64 end = 2; }
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  optional Segment segment = 3;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated bytes string_data = 6;
  repeated int64 int64_data = 7 [packed = true];
  optional string name = 8;
  optional string doc_string = 12;
  optional bytes raw_data = 9;
  repeated StringStringEntryProto external_data = 13;
  optional int32 data_location = 14;
  repeated double double_data = 10 [packed = true];
  repeated uint64 uint64_data = 11 [packed = true];
  repeated StringStringEntryProto metadata_props = 16;
}

message SparseTensorProto {
  optional TensorProto values = 1;
  optional TensorProto indices = 2;
  repeated int64 dims = 3;
}

message TensorShapeProto {
  message Dimension {
    oneof value { int64 dim_value = 1; string dim_param = 2; }
    optional string denotation = 3;
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor { optional int32 elem_type = 1; optional TensorShapeProto shape = 2; }
  message Sequence { optional TypeProto elem_type = 1; }
  message Map { optional int32 key_type = 1; optional TypeProto value_type = 2; }
  message Optional { optional TypeProto elem_type = 1; }
  message SparseTensor { optional int32 elem_type = 1; optional TensorShapeProto shape = 2; }
  oneof value {
    Tensor tensor_type = 1;
    Sequence sequence_type = 4;
    Map map_type = 5;
    Optional optional_type = 9;
    SparseTensor sparse_tensor_type = 8;
  }
  optional string denotation = 6;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
  optional string doc_string = 3;
  repeated StringStringEntryProto metadata_props = 4;
}

message AttributeProto {
  optional string name = 1;
  optional string ref_attr_name = 21;
  optional string doc_string = 13;
  optional int32 type = 20;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  optional GraphProto g = 6;
  optional SparseTensorProto sparse_tensor = 22;
  optional TypeProto tp = 14;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  repeated TensorProto tensors = 10;
  repeated GraphProto graphs = 11;
  repeated SparseTensorProto sparse_tensors = 23;
  repeated TypeProto type_protos = 15;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  optional string domain = 7;
  optional string overload = 8;
  repeated AttributeProto attribute = 5;
  optional string doc_string = 6;
  repeated StringStringEntryProto metadata_props = 9;
}

message TensorAnnotation {
  optional string tensor_name = 1;
  repeated StringStringEntryProto quant_parameter_tensor_names = 2;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  repeated SparseTensorProto sparse_initializer = 15;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
  repeated TensorAnnotation quantization_annotation = 14;
  repeated StringStringEntryProto metadata_props = 16;
}

message FunctionProto {
  optional string name = 1;
  repeated string input = 4;
  repeated string output = 5;
  repeated string attribute = 6;
  repeated AttributeProto attribute_proto = 11;
  repeated NodeProto node = 7;
  optional string doc_string = 8;
  repeated OperatorSetIdProto opset_import = 9;
  optional string domain = 10;
  optional string overload = 13;
  repeated ValueInfoProto value_info = 12;
  repeated StringStringEntryProto metadata_props = 14;
}

message ModelProto {
  optional int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
  repeated FunctionProto functions = 25;
}
`;

const root = protobuf.parse(ONNX_SUBSET, { keepCase: true }).root;

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

/** onnx.TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, DOUBLE: 11, FLOAT16: 10 } as const;

/** onnx.AttributeProto.AttributeType values used here. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

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

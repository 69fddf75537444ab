import protobuf from 'protobufjs';
import { toNumber } from './onnx-proto';

/**
 * Protobuf wire-format helpers for editing ONNX files without decoding them: a message is split
 * into its top-level fields (offsets only), edited fields are re-encoded, and everything else —
 * hundreds of megabytes of weights, fields this code does not know — is copied as byte ranges.
 */

export interface Field {
  field: number;
  /** The whole field, tag included. */
  start: number;
  end: number;
  /** Payload of a length-delimited field. */
  dataStart: number;
}

/** Splits a message into its top-level fields without decoding them. */
export function scanFields(buf: Uint8Array, start = 0, end = buf.length): Field[] {
  const reader = protobuf.Reader.create(buf.subarray(0, end));
  reader.pos = start;
  const fields: Field[] = [];
  while (reader.pos < end) {
    const fieldStart = reader.pos;
    const tag = reader.uint32();
    const wire = tag & 7;
    const field = tag >>> 3;
    if (field === 0) throw new Error(`invalid protobuf: field 0 at byte ${fieldStart}`);
    let dataStart = reader.pos;
    if (wire === 2) {
      const len = reader.uint32();
      dataStart = reader.pos;
      if (dataStart + len > end) throw new Error(`invalid protobuf: field ${field} runs past the end`);
      reader.pos = dataStart + len;
    } else {
      reader.skipType(wire);
    }
    fields.push({ field, start: fieldStart, end: reader.pos, dataStart });
  }
  if (reader.pos !== end) throw new Error('invalid protobuf: truncated message');
  return fields;
}

/** The first string field `fieldNo` of a message (e.g. a tensor's or value_info's name). */
export function readStringField(buf: Uint8Array, start: number, end: number, fieldNo: number): string | null {
  for (const f of scanFields(buf, start, end)) {
    if (f.field === fieldNo)
      return Buffer.from(buf.buffer, buf.byteOffset + f.dataStart, f.end - f.dataStart).toString('utf8');
  }
  return null;
}

/** A varint field's value (e.g. ModelProto.ir_version). */
export function readVarintField(buf: Uint8Array, f: Field): number {
  const reader = protobuf.Reader.create(buf.subarray(f.start, f.end));
  reader.uint32();
  return toNumber(reader.int64() as unknown as number);
}

/** Protobuf wire types (the low three bits of a field's tag). */
export const WireType = { VARINT: 0, LENGTH_DELIMITED: 2 } as const;

/** A field's tag: its number (from onnx-proto.ts FIELD) and wire type. */
export const tag = (fieldNo: number, wireType: number): number => ((fieldNo << 3) | wireType) >>> 0;

export const lengthDelimited = (fieldNo: number, payload: Uint8Array): Uint8Array => {
  const w = protobuf.Writer.create();
  w.uint32(tag(fieldNo, WireType.LENGTH_DELIMITED)).uint32(payload.length);
  const head = w.finish();
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  return out;
};

export const lengthHeader = (fieldNo: number, length: number): Uint8Array =>
  protobuf.Writer.create().uint32(tag(fieldNo, WireType.LENGTH_DELIMITED)).uint32(length).finish();

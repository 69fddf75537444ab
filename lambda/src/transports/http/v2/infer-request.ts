/**
 * The Open Inference Protocol's inference request (v2 REST), read and checked: the JSON form, and
 * Triton's binary tensor data extension (the JSON header, then each binary input's bytes, with
 * `Inference-Header-Content-Length` giving the header's length), which tritonclient uses by default.
 */
import { InvalidRequestError, PayloadTooLargeError } from '../../../core/errors';
import { decodeBase64Image } from '../request-body';

export interface InferInput {
  name: string;
  shape: number[];
  datatype: string;
  parameters: Record<string, unknown>;
  /** JSON `data` (flat or nested), when the input is not binary. */
  data?: unknown;
  /** The input's bytes from the binary part of the body (binary_data_size). */
  binary?: Buffer;
}

export interface InferOutputRequest {
  name: string;
  parameters: Record<string, unknown>;
}

export interface InferRequest {
  id?: string;
  parameters: Record<string, unknown>;
  inputs: InferInput[];
  /** Absent: every output the pipeline produces. */
  outputs?: InferOutputRequest[];
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function parametersOf(v: unknown, where: string): Record<string, unknown> {
  if (v === undefined) return {};
  if (!isObject(v)) throw new InvalidRequestError(`${where}.parameters must be an object.`);
  return v;
}

const elementCount = (shape: readonly number[]) => shape.reduce((a, d) => a * d, 1);

function readShape(v: unknown, where: string): number[] {
  if (!Array.isArray(v) || !v.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new InvalidRequestError(`${where}.shape must be an array of non-negative integers.`);
  }
  return v as number[];
}

/** The request's JSON part and, with the binary extension, the bytes after it. */
function split(body: Buffer, headerLength: string | undefined): { json: Buffer; rest: Buffer } {
  if (headerLength === undefined) return { json: body, rest: Buffer.alloc(0) };
  const n = /^\d+$/.test(headerLength.trim()) ? Number(headerLength) : NaN;
  if (!Number.isSafeInteger(n) || n > body.length) {
    throw new InvalidRequestError(
      `Inference-Header-Content-Length must be the length of the JSON header (at most ${body.length}); got '${headerLength.slice(0, 20)}'.`,
    );
  }
  return { json: body.subarray(0, n), rest: body.subarray(n) };
}

/**
 * Parses and checks an inference request body. Structure only: whether the inputs suit the model
 * is the caller's check.
 */
export function readInferRequest(body: Buffer, headerLength: string | undefined): InferRequest {
  const { json, rest } = split(body, headerLength);
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch {
    throw new InvalidRequestError(
      'The body must be an inference request: JSON like {"inputs": [{"name", "shape", "datatype", "data"}]}.',
    );
  }
  if (!isObject(parsed)) throw new InvalidRequestError('The inference request must be a JSON object.');
  const { id, inputs, outputs } = parsed;
  if (id !== undefined && typeof id !== 'string') throw new InvalidRequestError('"id" must be a string.');
  if (!Array.isArray(inputs) || inputs.length === 0) {
    throw new InvalidRequestError('"inputs" must be a non-empty array of tensors.');
  }
  let offset = 0;
  const readInputs = inputs.map((raw: unknown, i): InferInput => {
    const where = `inputs[${i}]`;
    if (!isObject(raw)) throw new InvalidRequestError(`${where} must be an object.`);
    if (typeof raw.name !== 'string' || raw.name === '') {
      throw new InvalidRequestError(`${where}.name must be a non-empty string.`);
    }
    if (typeof raw.datatype !== 'string')
      throw new InvalidRequestError(`${where}.datatype must be a string.`);
    const shape = readShape(raw.shape, where);
    const parameters = parametersOf(raw.parameters, where);
    const size = parameters.binary_data_size;
    if (size === undefined) {
      if (raw.data === undefined) throw new InvalidRequestError(`${where} has no "data".`);
      return { name: raw.name, shape, datatype: raw.datatype, parameters, data: raw.data };
    }
    if (!Number.isSafeInteger(size) || (size as number) < 0 || offset + (size as number) > rest.length) {
      throw new InvalidRequestError(
        `${where}.parameters.binary_data_size must count bytes present after the JSON header (${rest.length - offset} left).`,
      );
    }
    const binary = rest.subarray(offset, offset + (size as number));
    offset += size as number;
    return { name: raw.name, shape, datatype: raw.datatype, parameters, binary };
  });
  if (offset !== rest.length) {
    throw new InvalidRequestError(
      `${rest.length - offset} bytes after the inputs' binary data belong to no input.`,
    );
  }
  let readOutputs: InferOutputRequest[] | undefined;
  if (outputs !== undefined) {
    if (!Array.isArray(outputs)) throw new InvalidRequestError('"outputs" must be an array.');
    readOutputs = outputs.map((raw: unknown, i) => {
      if (!isObject(raw) || typeof raw.name !== 'string') {
        throw new InvalidRequestError(`outputs[${i}] must be an object with a "name".`);
      }
      return { name: raw.name, parameters: parametersOf(raw.parameters, `outputs[${i}]`) };
    });
  }
  return {
    ...(id !== undefined ? { id } : {}),
    parameters: parametersOf(parsed.parameters, 'the request'),
    inputs: readInputs,
    ...(readOutputs ? { outputs: readOutputs } : {}),
  };
}

/** JSON tensor data, nested or flat, as its flat elements (row-major). */
function flatten(data: unknown, where: string): unknown[] {
  if (!Array.isArray(data)) throw new InvalidRequestError(`${where}.data must be an array.`);
  return (data as unknown[]).flat(Infinity);
}

/**
 * A BYTES input's elements as images: base64 strings (or data: URLs) in JSON; in binary, each
 * element a 4-byte little-endian length and its bytes (Triton's serialisation of BYTES tensors).
 */
export function imagesOf(input: InferInput, limits: { maxImageBytes: number; maxImages: number }): Buffer[] {
  const where = `input '${input.name}'`;
  const count = elementCount(input.shape);
  if (count < 1 || count > limits.maxImages) {
    throw new InvalidRequestError(
      `${where} has shape [${input.shape.join(', ')}]: send 1 to ${limits.maxImages} images (shape [n]).`,
    );
  }
  const images: Buffer[] = [];
  if (input.binary) {
    let at = 0;
    const b = input.binary;
    while (at < b.length) {
      if (at + 4 > b.length)
        throw new InvalidRequestError(`${where}: a BYTES element's length is cut short.`);
      const n = b.readUInt32LE(at);
      at += 4;
      if (at + n > b.length) throw new InvalidRequestError(`${where}: a BYTES element is cut short.`);
      if (n > limits.maxImageBytes) {
        throw new PayloadTooLargeError(
          `${where}: an image is ${n} bytes; the limit is ${limits.maxImageBytes}.`,
        );
      }
      images.push(b.subarray(at, at + n));
      at += n;
    }
  } else {
    flatten(input.data, where).forEach((value, i) => {
      images.push(decodeBase64Image(value, `${input.name}.data[${i}]`, limits.maxImageBytes));
    });
  }
  if (images.length !== count) {
    throw new InvalidRequestError(
      `${where} has shape [${input.shape.join(', ')}] (${count} elements) but holds ${images.length}.`,
    );
  }
  return images;
}

/** An FP32 input as a Float32Array: JSON numbers (nested or flat), or little-endian float32 bytes. */
export function floatsOf(input: InferInput): Float32Array {
  const where = `input '${input.name}'`;
  const count = elementCount(input.shape);
  if (input.binary) {
    if (input.binary.length !== count * 4) {
      throw new InvalidRequestError(
        `${where} has shape [${input.shape.join(', ')}] (${count * 4} bytes of FP32) but ${input.binary.length} bytes.`,
      );
    }
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = input.binary.readFloatLE(i * 4);
    return out;
  }
  const values = flatten(input.data, where);
  if (values.length !== count) {
    throw new InvalidRequestError(
      `${where} has shape [${input.shape.join(', ')}] (${count} values) but holds ${values.length}.`,
    );
  }
  const out = new Float32Array(count);
  values.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new InvalidRequestError(`${where}.data[${i}] must be a finite number.`);
    }
    out[i] = v;
  });
  return out;
}

/**
 * The Open Inference Protocol's REST shapes (KServe/Triton "v2"), written from the specification's
 * JSON objects (https://github.com/kserve/open-inference-protocol, specification/protocol/
 * inference_rest.md and open_inference_rest.yaml): server and model metadata, inference request and
 * response, the error object, and the probe answers. Checked with ajv, plus what JSON Schema
 * cannot say: a tensor's data holds exactly as many elements as its shape, of its datatype.
 */
import Ajv2020 from 'ajv/dist/2020';

const tensorData = {
  type: 'array',
  items: { anyOf: [{ $ref: '#/$defs/tensorData' }, { type: ['number', 'string', 'boolean'] }] },
};
const parameters = { type: 'object' };
const metadataTensor = {
  type: 'object',
  required: ['name', 'datatype', 'shape'],
  properties: {
    name: { type: 'string' },
    datatype: {
      enum: [
        'BOOL',
        'UINT8',
        'UINT16',
        'UINT32',
        'UINT64',
        'INT8',
        'INT16',
        'INT32',
        'INT64',
        'FP16',
        'FP32',
        'FP64',
        'BYTES',
      ],
    },
    shape: { type: 'array', items: { type: 'integer', minimum: -1 } },
  },
};
const tensor = (extra: Record<string, unknown>) => ({
  type: 'object',
  required: ['name', 'shape', 'datatype', 'data'],
  properties: {
    name: { type: 'string' },
    shape: { type: 'array', items: { type: 'integer', minimum: 0 } },
    datatype: metadataTensor.properties.datatype,
    parameters,
    data: { $ref: '#/$defs/tensorData' },
    ...extra,
  },
});

export const PROTOCOL_SCHEMAS = {
  $defs: { tensorData },
  serverMetadata: {
    type: 'object',
    required: ['name', 'version', 'extensions'],
    properties: {
      name: { type: 'string' },
      version: { type: 'string' },
      extensions: { type: 'array', items: { type: 'string' } },
    },
  },
  modelMetadata: {
    type: 'object',
    required: ['name', 'platform', 'inputs', 'outputs'],
    properties: {
      name: { type: 'string' },
      versions: { type: 'array', items: { type: 'string' } },
      platform: { type: 'string' },
      inputs: { type: 'array', items: metadataTensor },
      outputs: { type: 'array', items: metadataTensor },
    },
  },
  inferenceRequest: {
    type: 'object',
    required: ['inputs'],
    properties: {
      id: { type: 'string' },
      parameters,
      inputs: { type: 'array', items: tensor({}) },
      outputs: {
        type: 'array',
        items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, parameters } },
      },
    },
  },
  inferenceResponse: {
    type: 'object',
    required: ['model_name', 'outputs'],
    properties: {
      model_name: { type: 'string' },
      model_version: { type: 'string' },
      id: { type: 'string' },
      parameters,
      outputs: { type: 'array', items: tensor({}) },
    },
  },
  error: { type: 'object', required: ['error'], properties: { error: { type: 'string', minLength: 1 } } },
  live: { type: 'object', required: ['live'], properties: { live: { type: 'boolean' } } },
  ready: { type: 'object', required: ['ready'], properties: { ready: { type: 'boolean' } } },
  modelReady: {
    type: 'object',
    required: ['name', 'ready'],
    properties: { name: { type: 'string' }, ready: { type: 'boolean' } },
  },
} as const;

export type ProtocolShape = Exclude<keyof typeof PROTOCOL_SCHEMAS, '$defs'>;

const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema(PROTOCOL_SCHEMAS, 'v2');

const ELEMENT_TYPE: Record<string, string> = { BYTES: 'string', BOOL: 'boolean' };

/** Where `body` breaks the protocol's `shape` (empty when it conforms), tensors' sizes included. */
export function conformsToProtocol(shape: ProtocolShape, body: unknown): string[] {
  const validate = ajv.getSchema(`v2#/${shape}`);
  if (!validate) throw new Error(`no protocol shape ${shape}`);
  if (!validate(body)) return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
  const tensors =
    shape === 'inferenceResponse' || shape === 'inferenceRequest'
      ? ((body as { outputs?: unknown[]; inputs?: unknown[] })[
          shape === 'inferenceResponse' ? 'outputs' : 'inputs'
        ] ?? [])
      : [];
  return (tensors as { name: string; shape: number[]; datatype: string; data: unknown[] }[]).flatMap((t) => {
    const flat = t.data.flat(Infinity);
    const count = t.shape.reduce((a, d) => a * d, 1);
    const problems: string[] = [];
    if (flat.length !== count)
      problems.push(`${t.name}: shape [${t.shape.join(', ')}] but ${flat.length} elements`);
    const want = ELEMENT_TYPE[t.datatype] ?? 'number';
    if (!flat.every((v) => typeof v === want))
      problems.push(`${t.name}: ${t.datatype} data must be ${want}s`);
    if (/INT/.test(t.datatype) && !flat.every((v) => Number.isInteger(v)))
      problems.push(`${t.name}: not integers`);
    return problems;
  });
}

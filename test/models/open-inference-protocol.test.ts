/**
 * The Open Inference Protocol (KServe / Triton v2 REST) over real HTTP on the local server with the
 * real small models (MobileNetV2-int8, YOLOX-nano): every request sent and every answer received
 * is checked against the protocol's JSON shapes (test/support/inference-protocol.ts), and answers
 * are compared with what /classifier and /detector say about the same photos.
 */
import { loadManifest } from '../../lambda/src/adapters/manifest-loader';
import { SharpImageDecoder } from '../../lambda/src/adapters/sharp-decoder';
import { softmax } from '../../lambda/src/core/classification';
import { modelInput } from '../../lambda/src/core/tensor';
import { loadConfig } from '../../lambda/src/adapters/config';
import { createLambdaHandler } from '../../lambda/src/transports/lambda-handler';
import { startLocalServer, type LocalServer } from '../../local/server';
import { photo, smallModelEnv } from '../support/fixtures';
import { conformsToProtocol, type ProtocolShape } from '../support/inference-protocol';

const CLASSIFIER = 'mobilenetv2-12-int8';
const DETECTOR = 'yolox-nano';
const env = smallModelEnv();
const manifest = loadManifest(loadConfig(env).modelsDir, null);
const specOf = (id: string) => manifest.models.find((m) => m.id === id)!;
let server: LocalServer;

beforeAll(async () => {
  server = await startLocalServer({ port: 0, env });
});
afterAll(() => server.close());

interface Tensor {
  name: string;
  shape: number[];
  datatype: string;
  data: (number | string)[];
}

async function call(
  method: string,
  path: string,
  body?: Buffer | string,
  headers: Record<string, string> = {},
) {
  const payload = Buffer.isBuffer(body) ? new Uint8Array(body) : body;
  const res = await fetch(`${server.url}${path}`, { method, body: payload, headers });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}

/**
 * POSTs an inference request (a well-formed one checked against the protocol first) and checks the
 * answer's shape.
 */
async function infer(model: string, request: Record<string, unknown>, expectStatus = 200) {
  if (expectStatus === 200) expect(conformsToProtocol('inferenceRequest', request)).toEqual([]);
  const r = await call('POST', `/v2/models/${model}/infer`, JSON.stringify(request), {
    'Content-Type': 'application/json',
  });
  expect({ status: r.status, body: r.body }).toMatchObject({ status: expectStatus });
  expect(conformsToProtocol(expectStatus === 200 ? 'inferenceResponse' : 'error', r.body)).toEqual([]);
  return r;
}

const imageInput = (...files: string[]) => ({
  name: 'image',
  shape: [files.length],
  datatype: 'BYTES',
  data: files.map((f) => photo(f).toString('base64')),
});
const output = (body: Record<string, any>, name: string) =>
  (body.outputs as Tensor[]).find((o) => o.name === name) as Tensor;

describe('server and model metadata, liveness and readiness', () => {
  it.each([
    ['/v2', 'serverMetadata'],
    ['/v2/health/live', 'live'],
    ['/v2/health/ready', 'ready'],
    [`/v2/models/${CLASSIFIER}/ready`, 'modelReady'],
  ] as [string, ProtocolShape][])('GET %s answers 200 in the protocol shape', async (path, shape) => {
    const r = await call('GET', path);
    expect(r.status).toBe(200);
    expect(conformsToProtocol(shape, r.body)).toEqual([]);
  });

  it('GET /v2 names the server and the classification and binary tensor data extensions', async () => {
    const r = await call('GET', '/v2');
    expect(r.body).toEqual({
      name: 'image-recognition-api',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      extensions: ['classification', 'binary_tensor_data'],
    });
  });

  it.each([CLASSIFIER, DETECTOR])(
    'GET /v2/models/%s lists the photo input, the tensor input and outputs from the manifest',
    async (id) => {
      const spec = specOf(id);
      const r = await call('GET', `/v2/models/${id}`);
      expect(r.status).toBe(200);
      expect(conformsToProtocol('modelMetadata', r.body)).toEqual([]);
      expect(r.body.name).toBe(id);
      expect(r.body.platform).toBe('onnxruntime_onnx');
      const { width, height } = spec.input;
      expect(r.body.inputs).toEqual([
        { name: 'image', datatype: 'BYTES', shape: [-1] },
        { name: spec.input.name, datatype: 'FP32', shape: [expect.any(Number), 3, height, width] },
      ]);
      const names = (r.body.outputs as Tensor[]).map((o) => o.name);
      expect(names).toEqual(expect.arrayContaining(spec.outputs.map((o) => o.name)));
      expect(names).toEqual(
        expect.arrayContaining(id === CLASSIFIER ? ['probabilities'] : ['num_detections', 'detection_boxes']),
      );
    },
  );

  it('a model whose file is not installed is not ready (503 with why); an unknown model is a 404 {error}', async () => {
    const missing = await call('GET', '/v2/models/resnet50-v1-12/ready');
    expect(missing.status).toBe(503);
    expect(conformsToProtocol('modelReady', missing.body)).toEqual([]);
    expect(missing.body).toMatchObject({
      name: 'resnet50-v1-12',
      ready: false,
      error: expect.stringMatching(/not installed/),
    });
    for (const path of ['/v2/models/nope', '/v2/models/nope/ready']) {
      const r = await call('GET', path);
      expect(r.status).toBe(404);
      expect(conformsToProtocol('error', r.body)).toEqual([]);
      expect(r.body).toMatchObject({
        code: 'NOT_FOUND',
        error: expect.stringMatching(/Unknown model 'nope'/),
      });
    }
  });
});

describe('inference on photos (BYTES input): the same answers as /classifier and /detector', () => {
  it('classifier: probabilities [1, 1000], the same ranking and values as POST /classifier', async () => {
    const r = await infer(CLASSIFIER, { id: 'req-7', inputs: [imageInput('dog.jpg')] });
    expect(r.body).toMatchObject({ model_name: CLASSIFIER, id: 'req-7' });
    const probabilities = output(r.body, 'probabilities');
    expect(probabilities).toMatchObject({ datatype: 'FP32', shape: [1, 1000] });
    const values = probabilities.data as number[];
    expect(values.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 2);
    const rest = await call('POST', '/classifier?topK=3', photo('dog.jpg'), { 'Content-Type': 'image/jpeg' });
    for (const p of rest.body.predictions as { classId: number; probability: number }[]) {
      expect(values[p.classId]).toBeCloseTo(p.probability, 5);
    }
    expect(values.indexOf(Math.max(...values))).toBe(rest.body.predictions[0].classId);
  });

  it('classification extension: {"classification": 3} answers "score:index:label" strings, best first, as /classifier ranks them', async () => {
    const r = await infer(CLASSIFIER, {
      inputs: [imageInput('dog.jpg', 'cat_chelsea.png')],
      outputs: [{ name: 'probabilities', parameters: { classification: 3 } }],
    });
    const top = output(r.body, 'probabilities');
    expect(top).toMatchObject({ datatype: 'BYTES', shape: [2, 3] });
    const [first] = top.data as string[];
    expect(first).toMatch(/^0\.\d{6}:249:Alaskan Malamute$/);
    const cat = await call('POST', '/classifier?topK=3', photo('cat_chelsea.png'), {
      'Content-Type': 'image/jpeg',
    });
    expect(top.data.slice(3)).toEqual(
      (cat.body.predictions as { classId: number; probability: number; label: string }[]).map(
        (p) => `${p.probability.toFixed(6)}:${p.classId}:${p.label}`,
      ),
    );
  });

  it('detector: num_detections, boxes, scores, classes and labels equal POST /detector, with its options as parameters', async () => {
    const r = await infer(DETECTOR, { inputs: [imageInput('dog.jpg')], parameters: { minConfidence: 0.3 } });
    const rest = await call('POST', '/detector?minConfidence=0.3', photo('dog.jpg'), {
      'Content-Type': 'image/jpeg',
    });
    const detections = rest.body.detections as {
      box: Record<string, number>;
      score: number;
      classId: number;
      label: string;
    }[];
    expect(detections.length).toBeGreaterThan(1);
    const n = detections.length;
    expect(output(r.body, 'num_detections')).toEqual({
      name: 'num_detections',
      datatype: 'INT32',
      shape: [1],
      data: [n],
    });
    expect(output(r.body, 'detection_boxes')).toMatchObject({ shape: [1, n, 4] });
    expect(output(r.body, 'detection_boxes').data).toEqual(
      detections.flatMap((d) => [d.box.x1, d.box.y1, d.box.x2, d.box.y2]),
    );
    expect(output(r.body, 'detection_scores').data).toEqual(detections.map((d) => d.score));
    expect(output(r.body, 'detection_classes').data).toEqual(detections.map((d) => d.classId));
    expect(output(r.body, 'detection_labels').data).toEqual(detections.map((d) => d.label));
  });

  it('a batch of photos pads each row to the most detections (class -1, label "")', async () => {
    const r = await infer(DETECTOR, {
      inputs: [imageInput('dog.jpg', 'kite.jpg')],
      parameters: { classes: 'dog' },
      outputs: [{ name: 'num_detections' }, { name: 'detection_classes' }, { name: 'detection_labels' }],
    });
    expect(r.body.outputs.map((o: Tensor) => o.name)).toEqual([
      'num_detections',
      'detection_classes',
      'detection_labels',
    ]);
    const [dogs, kiteDogs] = output(r.body, 'num_detections').data as number[];
    expect(dogs).toBeGreaterThan(0);
    expect(kiteDogs).toBe(0);
    expect(output(r.body, 'detection_classes')).toMatchObject({
      shape: [2, dogs],
      data: [...Array(dogs).fill(16), ...Array(dogs).fill(-1)],
    });
    expect(output(r.body, 'detection_labels').data).toEqual([
      ...Array(dogs).fill('dog'),
      ...Array(dogs).fill(''),
    ]);
  });

  it("Triton's binary tensor data extension: length-prefixed BYTES after the JSON header answer as base64 JSON does", async () => {
    const dog = photo('dog.jpg');
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          { name: 'image', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: dog.length + 4 } },
        ],
        outputs: [{ name: 'probabilities', parameters: { classification: 2, binary_data: false } }],
      }),
    );
    const length = Buffer.alloc(4);
    length.writeUInt32LE(dog.length);
    const r = await call('POST', `/v2/models/${CLASSIFIER}/infer`, Buffer.concat([header, length, dog]), {
      'Content-Type': 'application/octet-stream',
      'Inference-Header-Content-Length': String(header.length),
    });
    expect(r.status).toBe(200);
    expect(conformsToProtocol('inferenceResponse', r.body)).toEqual([]);
    const json = await infer(CLASSIFIER, {
      inputs: [imageInput('dog.jpg')],
      outputs: [{ name: 'probabilities', parameters: { classification: 2 } }],
    });
    expect(r.body.outputs).toEqual(json.body.outputs);
  });
});

describe('inference on tensors the client packed (FP32 input): the model’s own outputs', () => {
  const packed = async (file: string) => {
    const spec = specOf(CLASSIFIER);
    const prepared = await new SharpImageDecoder({ maxPixels: 40_000_000 }).prepare(photo(file), spec);
    return modelInput(prepared, spec);
  };

  it('raw logits whose softmax equals the photo pipeline’s probabilities', async () => {
    const { data, dims } = await packed('dog.jpg');
    const spec = specOf(CLASSIFIER);
    const r = await infer(CLASSIFIER, {
      inputs: [{ name: spec.input.name, shape: dims, datatype: 'FP32', data: Array.from(data) }],
    });
    const raw = output(r.body, spec.outputs[0]!.name);
    expect(raw).toMatchObject({ datatype: 'FP32', shape: [1, 1000] });
    const viaPhoto = output(
      (await infer(CLASSIFIER, { inputs: [imageInput('dog.jpg')] })).body,
      'probabilities',
    ).data as number[];
    Array.from(softmax(raw.data as number[])).forEach((p, i) => {
      expect(p).toBeCloseTo(viaPhoto[i] as number, 5);
    });
  });

  it('the same tensor as little-endian float32 bytes (binary extension), with the classification extension on raw values', async () => {
    const { data, dims } = await packed('dog.jpg');
    const spec = specOf(CLASSIFIER);
    const outName = spec.outputs[0]!.name;
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          {
            name: spec.input.name,
            shape: dims,
            datatype: 'FP32',
            parameters: { binary_data_size: bytes.length },
          },
        ],
        outputs: [{ name: outName, parameters: { classification: 1 } }],
      }),
    );
    const r = await call('POST', `/v2/models/${CLASSIFIER}/infer`, Buffer.concat([header, bytes]), {
      'Inference-Header-Content-Length': String(header.length),
    });
    expect(r.status).toBe(200);
    const [top] = output(r.body, outName).data as string[];
    // Triton's extension ranks the tensor's own values: a logit, not a probability.
    expect(top).toMatch(/^\d+\.\d{6}:249:Alaskan Malamute$/);
    expect(Number(top!.split(':')[0])).toBeGreaterThan(1);
  });
});

describe('errors: the protocol’s {"error"} with a stable code and the right status', () => {
  it.each([
    [
      'a tensor of the wrong shape',
      () => ({
        inputs: [{ name: 'input', shape: [1, 3, 10, 10], datatype: 'FP32', data: Array(300).fill(0) }],
      }),
      400,
      'INVALID_PARAMETER',
      /shape \[1\.\.\d+, 3, 224, 224\]/,
    ],
    [
      'data that does not fill its shape',
      () => ({ inputs: [{ name: 'input', shape: [1, 3, 224, 224], datatype: 'FP32', data: [1, 2, 3] }] }),
      400,
      'INVALID_REQUEST',
      /holds 3/,
    ],
    [
      'a datatype the model does not take',
      () => ({ inputs: [{ name: 'input', shape: [1], datatype: 'INT64', data: [1] }] }),
      400,
      'INVALID_REQUEST',
      /takes BYTES .* or FP32/,
    ],
    [
      'two inputs',
      () => ({ inputs: [imageInput('dog.jpg'), imageInput('dog.jpg')] }),
      400,
      'INVALID_REQUEST',
      /takes one input/,
    ],
    [
      'an unknown output',
      () => ({ inputs: [imageInput('dog.jpg')], outputs: [{ name: 'logits' }] }),
      400,
      'INVALID_REQUEST',
      /Unknown output 'logits'.*probabilities/,
    ],
    [
      'a photo that is not an image',
      () => ({
        inputs: [
          {
            name: 'image',
            shape: [1],
            datatype: 'BYTES',
            data: [Buffer.from('not an image at all').toString('base64')],
          },
        ],
      }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      /^Image 0: /,
    ],
    [
      'a parameter out of range',
      () => ({ inputs: [imageInput('dog.jpg')], parameters: { minConfidence: 2 } }),
      400,
      'INVALID_PARAMETER',
      /minConfidence/,
    ],
  ] as const)('%s', async (_name, request, status, code, message) => {
    const r = await infer(CLASSIFIER, request(), status);
    expect(r.body).toMatchObject({ code, error: expect.stringMatching(message) });
  });

  it('a body that is not JSON, a GET on infer and an unknown v2 path answer {"error"} too', async () => {
    const notJson = await call('POST', `/v2/models/${CLASSIFIER}/infer`, 'hello');
    expect(notJson.status).toBe(400);
    expect(notJson.body).toMatchObject({
      code: 'INVALID_REQUEST',
      error: expect.stringMatching(/inference request/),
    });
    const get = await call('GET', `/v2/models/${CLASSIFIER}/infer`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const unknown = await call('GET', '/v2/repository/index');
    expect(unknown.status).toBe(404);
    for (const r of [notJson, get, unknown]) expect(conformsToProtocol('error', r.body)).toEqual([]);
  });

  it('the server keeps serving after every error', async () => {
    const r = await infer(CLASSIFIER, {
      inputs: [imageInput('dog.jpg')],
      outputs: [{ name: 'probabilities', parameters: { classification: 1 } }],
    });
    expect((output(r.body, 'probabilities').data as string[])[0]).toMatch(/Alaskan Malamute/);
  });
});

describe('through API Gateway (the Lambda handler, proxy events as the REST API sends them)', () => {
  it('a binary-extension request (base64 event body, mixed-case headers, /v2/models/{model}/infer resource) answers as over HTTP', async () => {
    const handler = createLambdaHandler(server.service, server.config);
    const dog = photo('dog.jpg');
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          { name: 'image', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: dog.length + 4 } },
        ],
        outputs: [{ name: 'probabilities', parameters: { classification: 1 } }],
      }),
    );
    const length = Buffer.alloc(4);
    length.writeUInt32LE(dog.length);
    const result = (await handler({
      httpMethod: 'POST',
      path: `/v2/models/${CLASSIFIER}/infer`,
      resource: '/v2/models/{model}/infer',
      pathParameters: { model: CLASSIFIER },
      headers: {
        'Content-Type': 'application/octet-stream',
        'Inference-Header-Content-Length': String(header.length),
      },
      queryStringParameters: null,
      body: Buffer.concat([header, length, dog]).toString('base64'),
      isBase64Encoded: true,
      requestContext: { requestId: 'v2-event' },
    } as never)) as { statusCode: number; body: string };
    expect(result.statusCode).toBe(200);
    const answer = JSON.parse(result.body) as Record<string, any>;
    expect(conformsToProtocol('inferenceResponse', answer)).toEqual([]);
    expect(output(answer, 'probabilities').data[0]).toMatch(/^0\.\d{6}:249:Alaskan Malamute$/);
  });
});

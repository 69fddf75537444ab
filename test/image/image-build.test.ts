/**
 * `cdk deploy` builds the Lambda image from the Dockerfile; no Docker engine runs here, so this
 * rehearses that build: the context CDK stages (after .dockerignore), the build args CDK passes,
 * every stage's instructions as the Dockerfile writes them (production dependencies only), then a
 * fresh node process loads the image's handler with the function's environment from the template
 * and answers /classifier and /detector.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { rehearseImageBuild, type RehearsedImage } from '../../scripts/image-rehearsal/rehearse';
import { dockerImageAssets, resourcesOf, synth } from '../infra/synth';
import { MALAMUTE_FAMILY, photo } from '../support/fixtures';
import { invokeInFreshProcess, photoEvent, type HandlerRun } from '../support/lambda-process';

jest.setTimeout(600_000);

const SMALL_MODELS = ['mobilenetv2-12-int8', 'yolox-nano'];

let work: string;
let image: RehearsedImage;
let functionEnv: Record<string, string>;
let run: HandlerRun;

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'image-rehearsal-'));
  const { template, assembly } = synth({ imageModels: SMALL_MODELS.join(',') });
  const [asset, ...others] = dockerImageAssets(assembly);
  if (!asset || others.length > 0) throw new Error('expected exactly one container image asset');
  const [[, fn] = ['', {}]] = resourcesOf(template, 'AWS::Lambda::Function').filter(
    ([, p]) => (p as { PackageType?: string }).PackageType === 'Image',
  );
  const vars = (fn as { Environment?: { Variables?: Record<string, unknown> } }).Environment?.Variables ?? {};
  functionEnv = Object.fromEntries(
    Object.entries(vars).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
  image = rehearseImageBuild({
    contextDir: asset.directory,
    dockerfile: path.join(asset.directory, asset.dockerFile ?? 'Dockerfile'),
    buildArgs: asset.dockerBuildArgs,
    workDir: path.join(work, 'stages'),
  });
  const [handler = ''] = image.cmd;
  run = invokeInFreshProcess(
    image.taskRoot,
    handler,
    {
      PATH: process.env.PATH,
      HOME: path.join(work, 'home'),
      AWS_LAMBDA_FUNCTION_NAME: 'image-recognition',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '3008',
      AWS_REGION: 'eu-west-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...functionEnv,
      ...image.env,
      MODEL_CACHE_DIR: path.join(work, 'lambda-tmp'),
    },
    [
      photoEvent('/classifier', photo('dog.jpg')),
      photoEvent('/detector', photo('dog.jpg')),
      photoEvent('/detector', photo('dog.jpg'), { format: 'image' }),
    ],
  );
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

const body = (r: APIGatewayProxyResult | undefined) => JSON.parse(r?.body ?? '{}') as Record<string, unknown>;

test('CDK passes the chosen models as the MODELS build arg and makes them the defaults', () => {
  expect(functionEnv).toMatchObject({
    DEFAULT_CLASSIFIER: SMALL_MODELS[0],
    DEFAULT_DETECTOR: SMALL_MODELS[1],
  });
});

test('the image holds the staged models and their prepared copies', () => {
  expect(existsSync(path.join(image.root, 'opt/models/mobilenetv2-12-int8.onnx'))).toBe(true);
  expect(existsSync(path.join(image.root, 'opt/models/yolox_nano.onnx'))).toBe(true);
  expect(existsSync(path.join(image.root, 'opt/prepared-models/.verified-sha256.json'))).toBe(true);
});

test('the handler loads onnxruntime-node and sharp from the image, nothing from outside it', () => {
  for (let dir = image.taskRoot; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    expect(existsSync(path.join(path.dirname(dir), 'node_modules'))).toBe(false);
  }
  expect(run.resolved.ort.startsWith(image.taskRoot + path.sep)).toBe(true);
  expect(run.resolved.sharp.startsWith(image.taskRoot + path.sep)).toBe(true);
});

test('POST /classifier answers dog.jpg with a husky-family label', () => {
  const [classified] = run.results;
  expect(classified?.statusCode).toBe(200);
  expect(body(classified).model).toBe('mobilenetv2-12-int8');
  expect(MALAMUTE_FAMILY).toContain(body(classified).label);
  // The WordNet hierarchy ships with the labels: the summary works in the image too.
  expect(body(classified).summary).toMatchObject({
    label: 'sled dog',
    path: expect.arrayContaining(['dog']),
  });
});

test('format=image draws its boxes with libvips untrusted loaders blocked, as the image runs', () => {
  expect(image.env.VIPS_BLOCK_UNTRUSTED).toBe('1');
  const [, , drawn] = run.results;
  expect(drawn?.statusCode).toBe(200);
  expect(drawn?.headers?.['Content-Type']).toBe('image/jpeg');
  expect(Buffer.from(drawn?.body ?? '', 'base64').subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
});

test('POST /detector finds the dog in dog.jpg', () => {
  const [, detected] = run.results;
  expect(detected?.statusCode).toBe(200);
  expect(body(detected).model).toBe('yolox-nano');
  const labels = (body(detected).detections as { label: string }[]).map((d) => d.label);
  expect(labels).toContain('dog');
});

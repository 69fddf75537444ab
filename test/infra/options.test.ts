import { App, Stack } from 'aws-cdk-lib';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InferenceFunction, type InferenceFunctionProps } from '../../lib/inference-function';
import { ModelCatalog } from '../../lib/model-catalog';
import { deploymentOptionsFromContext, parseModelSource } from '../../lib/options';
import { CDK_JSON_CONTEXT, dockerImageAssets, listFiles, REPO_ROOT } from './synth';

jest.setTimeout(120_000);

const optionsFor = (context: Record<string, unknown>) =>
  deploymentOptionsFromContext(new App({ context }).node);

describe('deployment options from context', () => {
  test('defaults: models baked into the image, 3008 MB, 10 environments, 10,000 requests a day, tracing, CloudFront logs and uploads on, no WAF', () => {
    expect(optionsFor({})).toEqual({
      modelSource: { kind: 'image' },
      imageModels: ['resnet50-v1-12', 'yolov4'],
      modelsFromCache: false,
      defaultClassifier: undefined,
      defaultDetector: undefined,
      preloadModels: undefined,
      memorySize: 3008,
      ortThreads: undefined,
      maxConcurrency: 10,
      provisionedConcurrency: undefined,
      apiKey: false,
      dailyQuota: 10000,
      waf: false,
      wafRateLimit: 300,
      alarmEmail: undefined,
      tracing: true,
      cloudFrontLogs: true,
      uploads: true,
      allowedOrigins: [],
      throttleRateLimit: 20,
      throttleBurstLimit: 40,
      logRetentionDays: 30,
      apiCloudWatchRole: true,
    });
  });

  test('parses -c strings: lists, booleans, integers and an S3 model source without models in the image', () => {
    const o = optionsFor({
      modelSource: 's3://my-bucket/models/v2/',
      allowedOrigins: 'https://a.example, https://b.example',
      apiKey: 'true',
      memorySize: '10240',
      preloadModels: '',
    });
    expect(o.modelSource).toEqual({ kind: 's3', bucketName: 'my-bucket', prefix: 'models/v2' });
    expect(o.imageModels).toEqual([]);
    expect(o.allowedOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(o.apiKey).toBe(true);
    expect(o.memorySize).toBe(10240);
    expect(o.preloadModels).toEqual([]);
  });

  test('accepts JSON-typed values from cdk.json', () => {
    const o = optionsFor({ apiKey: true, memorySize: 1769, imageModels: ['resnet50-v1-12-int8'] });
    expect(o).toMatchObject({ apiKey: true, memorySize: 1769, imageModels: ['resnet50-v1-12-int8'] });
  });

  test('rejects malformed values with the key name', () => {
    expect(() => optionsFor({ memorySize: '3 GB' })).toThrow(/memorySize/);
    expect(() => optionsFor({ memorySize: '64' })).toThrow(/memorySize/);
    expect(() => optionsFor({ apiKey: 'yes' })).toThrow(/apiKey/);
    expect(() => optionsFor({ uploads: 'off' })).toThrow(/uploads/);
    expect(optionsFor({ uploads: 'false' }).uploads).toBe(false);
    expect(optionsFor({ uploads: false }).uploads).toBe(false);
    expect(() => optionsFor({ logRetentionDays: '8' })).toThrow(/logRetentionDays/);
    expect(() => optionsFor({ alarmEmail: 'ops' })).toThrow(/alarmEmail/);
    expect(() => optionsFor({ wafRateLimit: '5' })).toThrow(/wafRateLimit/);
    expect(() => optionsFor({ maxConcurrency: '-1' })).toThrow(/maxConcurrency/);
    expect(optionsFor({ maxConcurrency: 'none', dailyQuota: '0' })).toMatchObject({
      maxConcurrency: undefined,
      dailyQuota: undefined,
    });
    expect(optionsFor({ logRetentionDays: '7' }).logRetentionDays).toBe(7);
    expect(() => parseModelSource('https://bucket/prefix')).toThrow(/modelSource/);
    expect(parseModelSource('s3://bucket')).toEqual({ kind: 's3', bucketName: 'bucket', prefix: '' });
  });
});

describe('inference function model checks', () => {
  const make = (props: Partial<InferenceFunctionProps>, contextDir = REPO_ROOT) => {
    const app = new App({ context: CDK_JSON_CONTEXT, builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'S', { env: { account: '123456789012', region: 'eu-west-1' } });
    const fn = new InferenceFunction(stack, 'Inference', {
      contextDir,
      catalog: ModelCatalog.fromRepo(contextDir),
      modelSource: { kind: 'image' },
      imageModels: ['resnet50-v1-12', 'yolov4'],
      ...props,
    });
    return { app, stack, fn };
  };

  test('rejects unknown model ids and defaults that are not in the image', () => {
    expect(() => make({ imageModels: ['resnet51'] })).toThrow(/Unknown model 'resnet51'/);
    expect(() => make({ defaultClassifier: 'resnet50-v1-12-int8' })).toThrow(/not in imageModels/);
    expect(() => make({ defaultDetector: 'resnet50-v1-12' })).toThrow(/classification model, not detection/);
    expect(() => make({ imageModels: [] })).toThrow(/at least one model/);
  });

  test('picks the defaults from the baked models when resnet50/yolov4 are not there', () => {
    const { fn } = make({ imageModels: ['resnet50-v1-12-int8', 'yolov4'] });
    expect(fn.defaultClassifier).toBe('resnet50-v1-12-int8');
    expect(fn.defaultDetector).toBe('yolov4');
  });

  /**
   * A repo root of links to this repo's files, whose manifest has one more model: `local-only`,
   * with no URL and not embedded.
   */
  function rootWithLocalOnlyModel(): string {
    const root = mkdtempSync(path.join(tmpdir(), 'ctx-'));
    for (const f of [
      'Dockerfile',
      '.dockerignore',
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'scripts',
    ]) {
      symlinkSync(path.join(REPO_ROOT, f), path.join(root, f));
    }
    mkdirSync(path.join(root, 'models'));
    for (const f of readdirSync(path.join(REPO_ROOT, 'models')).filter((n) => n !== 'manifest.json')) {
      symlinkSync(path.join(REPO_ROOT, 'models', f), path.join(root, 'models', f));
    }
    const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'models', 'manifest.json'), 'utf8')) as {
      models: unknown[];
    };
    manifest.models.push({ id: 'local-only', task: 'detection', file: 'local-only.onnx', urls: [] });
    writeFileSync(path.join(root, 'models', 'manifest.json'), JSON.stringify(manifest));
    return root;
  }

  test('a model without a download URL needs modelsFromCache unless it ships in models/embedded', () => {
    expect(() => make({ imageModels: ['local-only'] }, rootWithLocalOnlyModel())).toThrow(/modelsFromCache/);
    // Yolo-Fastest has no URL either, but the image build copies it from models/embedded.
    expect(make({ imageModels: ['yolo-fastest-1.1-xl'] }).fn.defaultDetector).toBe('yolo-fastest-1.1-xl');
  });

  test('modelsFromCache adds only the selected model files from .cache/models to the build context', () => {
    // A repo root whose .cache/models holds a selected and an unselected model.
    const root = rootWithLocalOnlyModel();
    mkdirSync(path.join(root, '.cache', 'models'), { recursive: true });
    writeFileSync(path.join(root, '.cache', 'models', 'mobilenetv2-12-int8.onnx'), 'selected');
    writeFileSync(path.join(root, '.cache', 'models', 'yolov4.onnx'), 'not selected');
    writeFileSync(path.join(root, '.cache', 'other.bin'), 'not a model');
    // A model with no URL, not embedded and not in the cache: the build could not get it.
    expect(() => make({ imageModels: ['local-only'], modelsFromCache: true }, root)).toThrow(
      /\.cache\/models/,
    );
    // resnet50-v1-12 is not cached either, but the build downloads it.
    const { app, fn } = make(
      { imageModels: ['mobilenetv2-12-int8', 'resnet50-v1-12'], modelsFromCache: true },
      root,
    );
    expect(fn.defaultClassifier).toBe('resnet50-v1-12');
    // No detector in the image: only the classifier is preloaded.
    expect(fn.function.node.defaultChild).toBeDefined();
    const env = (
      app.synth().getStackByName('S').template as {
        Resources: Record<string, { Properties: { Environment?: { Variables: Record<string, string> } } }>;
      }
    ).Resources;
    expect(
      Object.values(env).find((r) => r.Properties.Environment)?.Properties.Environment?.Variables
        .PRELOAD_MODELS,
    ).toBe('resnet50-v1-12');
    const assembly = app.synth();
    const files = listFiles(dockerImageAssets(assembly, 'S')[0]!.directory);
    expect(files.filter((f) => f.startsWith('.cache/'))).toEqual(['.cache/models/mobilenetv2-12-int8.onnx']);

    // Without modelsFromCache nothing from .cache is copied.
    const plain = make({}, root).app.synth();
    expect(
      listFiles(dockerImageAssets(plain, 'S')[0]!.directory).filter((f) => f.startsWith('.cache')),
    ).toEqual([]);
  });
});

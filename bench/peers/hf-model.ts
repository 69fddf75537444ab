/**
 * The ResNet-50 stand-in as a transformers.js model folder (bench cache only, never committed):
 * the same graph with its input renamed `pixel_values` and its output `logits` (what transformers.js
 * feeds and reads for image classification), plus config.json and preprocessor_config.json.
 *
 * The renaming is a wire-level edit with the repository's own ONNX protobuf tooling
 * (tools/model-prep/onnx-wire.ts, onnx-proto.ts): nodes and value infos that mention a renamed
 * tensor are decoded and re-encoded, everything else (the weights) is copied as byte ranges.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  decodeNode,
  encodeNode,
  FIELD,
  ValueInfoProto,
  type ValueInfoMsg,
} from '../../tools/model-prep/onnx-proto';
import {
  type Field,
  lengthDelimited,
  lengthHeader,
  readStringField,
  scanFields,
} from '../../tools/model-prep/onnx-wire';
import { BENCH_CACHE, ROOT } from '../lib/models';

/** Bumped when the folder's contents change, so older folders are written again. */
const HF_FOLDER_VERSION = 1;

/** What transformers.js feeds and reads for image classification. */
export const HF_IO = { input: 'pixel_values', output: 'logits' } as const;

/** The stand-in's own names (the zoo file's, models/manifest.json). */
export const RESNET_IO = { input: 'data', output: 'resnetv17_dense0_fwd' } as const;

/**
 * `bytes` (an ONNX model) with graph inputs/outputs renamed by `renames` (old → new), in every node
 * input and output, graph input, output and value info that names them. Returns the new file as
 * parts (views into `bytes` plus small new buffers). Throws if a name is missing, is an initializer,
 * or a node has subgraphs (whose names this edit does not follow), or if a new name is taken.
 */
export function renameGraphIo(bytes: Uint8Array, renames: Readonly<Record<string, string>>): Uint8Array[] {
  const modelFields = scanFields(bytes);
  const graphField = modelFields.find((f) => f.field === FIELD.model.graph);
  if (!graphField) throw new Error('not an ONNX model: no graph');
  const graphFields = scanFields(bytes, graphField.dataStart, graphField.end);
  const view = (f: Field) => bytes.subarray(f.start, f.end);
  const payload = (f: Field) => bytes.subarray(f.dataStart, f.end);
  const rename = (name: string) => renames[name] ?? name;

  const ioNames = new Set<string>();
  const taken = new Set<string>();
  for (const f of graphFields) {
    if (f.field === FIELD.graph.input || f.field === FIELD.graph.output) {
      const name = readStringField(bytes, f.dataStart, f.end, FIELD.valueInfo.name);
      if (name) ioNames.add(name);
    } else if (f.field === FIELD.graph.initializer) {
      const name = readStringField(bytes, f.dataStart, f.end, FIELD.tensor.name);
      if (name && name in renames) throw new Error(`${name} is an initializer, not a graph input or output`);
      if (name) taken.add(name);
    }
  }
  for (const [from, to] of Object.entries(renames)) {
    if (!ioNames.has(from)) throw new Error(`the graph has no input or output named ${from}`);
    if (ioNames.has(to) || taken.has(to)) throw new Error(`the graph already has a tensor named ${to}`);
  }

  const parts: Uint8Array[] = [];
  for (const f of graphFields) {
    if (f.field === FIELD.graph.node) {
      const node = decodeNode(payload(f));
      if (node.attribute?.some((a) => a.g || a.graphs?.length))
        throw new Error(`node ${node.name ?? ''} has a subgraph: renaming through it is not supported`);
      const inputs = node.input ?? [];
      const outputs = node.output ?? [];
      if (![...inputs, ...outputs].some((n) => n in renames)) {
        parts.push(view(f));
        continue;
      }
      parts.push(
        lengthDelimited(
          FIELD.graph.node,
          encodeNode({ ...node, input: inputs.map(rename), output: outputs.map(rename) }),
        ),
      );
    } else if (
      f.field === FIELD.graph.input ||
      f.field === FIELD.graph.output ||
      f.field === FIELD.graph.valueInfo
    ) {
      const name = readStringField(bytes, f.dataStart, f.end, FIELD.valueInfo.name);
      if (!name || !(name in renames)) {
        parts.push(view(f));
        continue;
      }
      const info = ValueInfoProto.decode(payload(f)) as unknown as ValueInfoMsg;
      const renamed = ValueInfoProto.encode(
        ValueInfoProto.fromObject({ ...info, name: rename(name) }),
      ).finish();
      parts.push(lengthDelimited(f.field, renamed));
    } else {
      parts.push(view(f));
    }
  }
  const graphLength = parts.reduce((s, p) => s + p.length, 0);
  const out: Uint8Array[] = [];
  for (const f of modelFields) {
    if (f.field === FIELD.model.graph) out.push(lengthHeader(FIELD.model.graph, graphLength), ...parts);
    else out.push(view(f));
  }
  return out;
}

/** The graph's input and output names (for checks and the test). */
export function graphIoNames(bytes: Uint8Array): { inputs: string[]; outputs: string[] } {
  const graphField = scanFields(bytes).find((f) => f.field === FIELD.model.graph);
  if (!graphField) throw new Error('not an ONNX model: no graph');
  const inputs: string[] = [];
  const outputs: string[] = [];
  for (const f of scanFields(bytes, graphField.dataStart, graphField.end)) {
    const into = f.field === FIELD.graph.input ? inputs : f.field === FIELD.graph.output ? outputs : null;
    const name = into && readStringField(bytes, f.dataStart, f.end, FIELD.valueInfo.name);
    if (into && name) into.push(name);
  }
  return { inputs, outputs };
}

/**
 * preprocessor_config.json: as close to the manifest's ResNet-50 preprocessing as transformers.js
 * allows. ConvNextImageProcessor (microsoft/resnet-50's) with shortest_edge 224 and crop_pct 0.875
 * resizes the shorter side to floor(224 / 0.875) = 256 and centre-crops 224, like the manifest's
 * `center-crop, shorterSide 256`; scale 1/255, ImageNet mean and std, RGB. microsoft/resnet-50 says
 * resample 3 (bicubic); 2 (bilinear) is the nearest to the service's sharp `linear` kernel.
 */
export const PREPROCESSOR_CONFIG = {
  image_processor_type: 'ConvNextImageProcessor',
  feature_extractor_type: 'ConvNextFeatureExtractor',
  do_resize: true,
  size: { shortest_edge: 224 },
  crop_pct: 0.875,
  resample: 2,
  do_rescale: true,
  rescale_factor: 1 / 255,
  do_normalize: true,
  image_mean: [0.485, 0.456, 0.406],
  image_std: [0.229, 0.224, 0.225],
} as const;

export interface HfModelFolder {
  /** env.localModelPath for transformers.js. */
  root: string;
  /** The model id under `root`. */
  id: string;
  dir: string;
  /** True when an earlier run wrote it for the same stand-in. */
  cached: boolean;
}

/**
 * Writes (once per stand-in file) `<bench cache>/peers/hf/<id>/` with config.json,
 * preprocessor_config.json and onnx/model.onnx (the renamed stand-in).
 */
export function ensureHfResnetFolder(
  resnetStandIn: string,
  root: string = path.join(BENCH_CACHE, 'peers', 'hf'),
): HfModelFolder {
  const id = 'resnet50-standin';
  const dir = path.join(root, id);
  const { size, mtimeMs } = statSync(resnetStandIn);
  const stamp = { version: HF_FOLDER_VERSION, source: path.resolve(resnetStandIn), size, mtimeMs };
  const stampFile = path.join(dir, 'stamp.json');
  const model = path.join(dir, 'onnx', 'model.onnx');
  try {
    if (existsSync(model) && readFileSync(stampFile, 'utf8') === JSON.stringify(stamp))
      return { root, id, dir, cached: true };
  } catch {
    // no stamp: write the folder
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  const labels = readFileSync(path.join(ROOT, 'models', 'imagenet_labels_short.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  if (labels.length !== 1000) throw new Error(`expected 1000 ImageNet labels, read ${labels.length}`);
  const config = {
    model_type: 'resnet',
    architectures: ['ResNetForImageClassification'],
    num_labels: labels.length,
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
  };
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 1));
  writeFileSync(path.join(dir, 'preprocessor_config.json'), JSON.stringify(PREPROCESSOR_CONFIG, null, 1));
  const parts = renameGraphIo(readFileSync(resnetStandIn), {
    [RESNET_IO.input]: HF_IO.input,
    [RESNET_IO.output]: HF_IO.output,
  });
  const tmp = `${model}.tmp-${process.pid}`;
  writeFileSync(tmp, Buffer.concat(parts));
  renameSync(tmp, model);
  writeFileSync(stampFile, JSON.stringify(stamp));
  return { root, id, dir, cached: false };
}

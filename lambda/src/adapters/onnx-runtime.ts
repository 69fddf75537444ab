import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelUnavailableError } from '../core/errors';
import { maxBatchOf, type ModelSpec } from '../core/manifest';
import type { LoadedModel, ModelRuntime } from '../core/ports';
import type { OutputMap } from '../core/tensor-types';
import { findPreparedCopy } from './prepared-models';

export interface OnnxRuntimeOptions {
  intraOpThreads: number;
  /** onnxruntime's 'all' fuses Conv+BN+activation; 'disabled' is for comparisons only. */
  graphOptimizationLevel?: ort.InferenceSession.SessionOptions['graphOptimizationLevel'];
  /**
   * Folder of prepared copies (prepared-models.ts: Mish without Log, weights in an external file
   * mapped instead of copied); null loads files as they are.
   */
  preparedDir?: string | null;
  /**
   * Makes the prepared copy of a file that has none yet (locally: tools/model-prep, in process).
   * Absent on Lambda, where the image build made them.
   */
  prepareMissing?: (file: string, sha256: string | null, preparedDir: string) => Promise<void>;
  /**
   * A file's sha256 (ModelFileStore.sha256: remembered by size and mtime): prepared copies are
   * loaded only when they match what the tool recorded. Without it, files load as they are.
   */
  verify?: (file: string) => Promise<string>;
  /**
   * Whether idle intra-op threads spin waiting for work. Spinning saves microseconds between
   * kernels but burns the CPU that decoding the next request needs.
   */
  allowSpinning?: boolean;
}

type Dim = number | string | null;

/** Numeric dims must match; symbolic dims (strings, null) match anything. */
function shapeMismatch(actual: readonly Dim[], expected: readonly Dim[]): boolean {
  if (actual.length === 0) return false; // onnxruntime reports no shape for some models
  if (actual.length !== expected.length) return true;
  return actual.some(
    (a, i) => typeof a === 'number' && typeof expected[i] === 'number' && a !== expected[i] && a > 0,
  );
}

const fmt = (dims: readonly Dim[]) => `[${dims.map((d) => (typeof d === 'number' ? d : '?')).join(',')}]`;

function checkIo(session: ort.InferenceSession, spec: ModelSpec): string[] {
  const problems: string[] = [];
  const { input } = spec;
  const inMeta = session.inputMetadata.find((m) => m.name === input.name);
  if (!inMeta) {
    problems.push(`input '${input.name}' not in model (has ${session.inputNames.join(', ')})`);
  } else if (inMeta.isTensor) {
    const expected =
      input.layout === 'NCHW' ? [null, 3, input.height, input.width] : [null, input.height, input.width, 3];
    if (inMeta.type !== 'float32')
      problems.push(`input '${input.name}' is ${inMeta.type}, manifest says float32`);
    if (shapeMismatch(inMeta.shape, expected)) {
      problems.push(
        `input '${input.name}' has shape ${fmt(inMeta.shape)}, manifest says ${input.layout} ${fmt(expected)}`,
      );
    }
  }
  for (const out of spec.outputs) {
    const meta = session.outputMetadata.find((m) => m.name === out.name);
    if (!meta) problems.push(`output '${out.name}' not in model (has ${session.outputNames.join(', ')})`);
    else if (meta.isTensor && shapeMismatch(meta.shape, out.shape)) {
      problems.push(`output '${out.name}' has shape ${fmt(meta.shape)}, manifest says ${fmt(out.shape)}`);
    }
  }
  return [...problems, ...batchProblems(session, spec)];
}

/**
 * `input.maxBatch` over 1 feeds several images in one run: the graph's input and every output the
 * service reads must then have a symbolic first dimension. (Start-up validation of the manifest
 * does not know the field: a bad value is named here, when the model loads.)
 */
function batchProblems(session: ort.InferenceSession, spec: ModelSpec): string[] {
  const declared = spec.input.maxBatch;
  if (declared === undefined || declared === null) return [];
  if (maxBatchOf(spec.input) !== declared) {
    return [`input.maxBatch must be a whole number of images, at least 1; got ${JSON.stringify(declared)}`];
  }
  if (declared === 1) return [];
  const tensors = [
    { kind: 'input', meta: session.inputMetadata.find((m) => m.name === spec.input.name) },
    ...spec.outputs.map((o) => ({
      kind: 'output',
      meta: session.outputMetadata.find((m) => m.name === o.name),
    })),
  ];
  const problems: string[] = [];
  for (const { kind, meta } of tensors) {
    // Missing tensors are named by checkIo; a numeric first dim is a fixed batch.
    if (!meta?.isTensor || typeof meta.shape[0] !== 'number' || meta.shape[0] <= 0) continue;
    problems.push(
      `${kind} '${meta.name}' has a fixed batch of ${meta.shape[0]} (shape ${fmt(meta.shape)}), manifest says input.maxBatch ${declared}`,
    );
  }
  return problems;
}

export class OnnxModelRuntime implements ModelRuntime {
  constructor(private readonly options: OnnxRuntimeOptions) {}

  /** The file to load: the prepared copy when there is one, else the file itself. */
  private async preparedCopy(file: string, sha256: string | null): Promise<string> {
    const { preparedDir, prepareMissing, verify } = this.options;
    if (!preparedDir || !verify) return file;
    const found = await findPreparedCopy(preparedDir, file, sha256, verify);
    if (found || !prepareMissing) return found ?? file;
    try {
      await prepareMissing(file, sha256, preparedDir);
    } catch {
      // Preparing is an optimisation, never a reason not to serve: load the file as it is.
    }
    return (await findPreparedCopy(preparedDir, file, sha256, verify)) ?? file;
  }

  async load(spec: ModelSpec, file: string): Promise<LoadedModel> {
    const source = await this.preparedCopy(file, spec.sha256);
    const create = (modelFile: string) =>
      ort.InferenceSession.create(modelFile, {
        intraOpNumThreads: this.options.intraOpThreads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: this.options.graphOptimizationLevel ?? 'all',
        // onnxruntime's memory pattern reserves one block for all activations after the first run:
        // more RSS for YOLOv4 and no speed-up (measured in docs/performance.md).
        enableMemPattern: false,
        extra: {
          session: { intra_op: { allow_spinning: this.options.allowSpinning === false ? '0' : '1' } },
        },
      });
    let session: ort.InferenceSession;
    try {
      try {
        session = await create(source);
      } catch (e) {
        if (source === file) throw e;
        session = await create(file); // the prepared copy failed: serve the original
      }
    } catch (e) {
      // onnxruntime quotes the full path; clients only learn the file name.
      const reason = (e as Error).message
        .split(file)
        .join(path.basename(file))
        .replace(/(?:\/[\w.@+-]+)+\/([\w.@+-]+)/g, '$1');
      throw new ModelUnavailableError(spec.id, `onnxruntime could not load the file: ${reason}`, {
        cause: e,
      });
    }
    const problems = checkIo(session, spec);
    if (problems.length > 0) {
      await session.release();
      throw new ModelUnavailableError(
        spec.id,
        `the file does not match its manifest entry: ${problems.join('; ')}`,
      );
    }
    const inputName = spec.input.name;
    const outputNames = spec.outputs.map((o) => o.name);
    return {
      async run(data: Float32Array, dims: readonly number[]): Promise<OutputMap> {
        const feeds = { [inputName]: new ort.Tensor('float32', data, dims) };
        const results = await session.run(feeds, outputNames);
        const out: Record<string, { data: Float32Array; dims: readonly number[] }> = {};
        for (const name of outputNames) {
          const t = results[name];
          if (!t || !(t.data instanceof Float32Array))
            throw new Error(`model output '${name}' is not float32`);
          out[name] = { data: t.data, dims: t.dims };
        }
        return out;
      },
      dispose: () => session.release(),
    };
  }
}

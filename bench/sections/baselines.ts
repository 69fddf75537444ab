import { readFileSync } from 'node:fs';
import * as ortWeb from 'onnxruntime-web';
import { loadManifest } from '../../lambda/src/adapters/manifest-loader';
import { SharpImageDecoder } from '../../lambda/src/adapters/sharp-decoder';
import { packTensor } from '../../lambda/src/core/tensor';
import type { BenchImage } from '../lib/images';
import { log } from '../lib/log';
import { ROOT, syntheticInput, type BenchModel } from '../lib/models';
import { naivePreprocess } from '../lib/naive-pipeline';
import { round, summarize, timed, type Summary } from '../lib/stats';
import path from 'node:path';

export interface WasmRow {
  model: string;
  createMs: number;
  firstRunMs: number;
  wall: Summary;
  nativeMs: number | null;
  /** WASM median / native median, both 1 thread. */
  ratio: number | null;
}

export interface PipelineRow {
  image: string;
  service: Summary;
  naive: Summary;
  /** naive / service medians. */
  ratio: number;
}

/** (6a) onnxruntime-web (WebAssembly, 1 thread) in Node on the same files. */
export async function runWasm(
  models: BenchModel[],
  runs: number,
  nativeMs: (model: string) => number | null,
): Promise<WasmRow[]> {
  ortWeb.env.wasm.numThreads = 1;
  const rows: WasmRow[] = [];
  for (const m of models) {
    const dims = m.dims(1);
    const created = await timed(() =>
      ortWeb.InferenceSession.create(readFileSync(m.file), {
        executionProviders: ['wasm'],
        graphOptimizationLevel: 'all',
      }),
    );
    const session = created.value;
    try {
      const name = session.inputNames[0]!;
      const feeds = {
        [name]: new ortWeb.Tensor('float32', syntheticInput(dims.reduce((a, b) => a * b, 1)), dims),
      };
      const first = await timed(() => session.run(feeds));
      const wall: number[] = [];
      for (let i = 0; i < runs; i++) wall.push((await timed(() => session.run(feeds))).wallMs);
      const s = summarize(wall);
      const native = nativeMs(m.key);
      rows.push({
        model: m.key,
        createMs: created.wallMs,
        firstRunMs: first.wallMs,
        wall: s,
        nativeMs: native,
        ratio: native ? s.median / native : null,
      });
      log(
        `wasm ${m.key}: create ${round(created.wallMs, 0)} ms, median ${round(s.median)} ms (native ${native ? round(native) : '-'} ms)`,
      );
    } finally {
      await session.release();
    }
  }
  return rows;
}

/** (6b) The service's decode+preprocess vs a naive full decode and JavaScript resize (ResNet-50 input). */
export async function runPipeline(images: BenchImage[], runs: number): Promise<PipelineRow[]> {
  const manifest = loadManifest(path.join(ROOT, 'models'), null);
  const spec = manifest.models.find((m) => m.id === 'resnet50-v1-12');
  if (!spec) throw new Error('no resnet50-v1-12 in the manifest');
  const decoder = new SharpImageDecoder({ maxPixels: 40_000_000 });
  const rows: PipelineRow[] = [];
  for (const image of images) {
    const service: number[] = [];
    const naive: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const a = await timed(async () => {
        const p = await decoder.prepare(image.bytes, spec);
        return packTensor(p.rgb, p.width, p.height, spec.preprocess, spec.input.layout);
      });
      const b = await timed(() => naivePreprocess(image.bytes, spec.preprocess.mean, spec.preprocess.std));
      if (i === 0) continue; // warm-up
      service.push(a.wallMs);
      naive.push(b.wallMs);
    }
    const s = summarize(service);
    const n = summarize(naive);
    rows.push({ image: image.name, service: s, naive: n, ratio: n.median / s.median });
    log(
      `pipeline ${image.name}: service ${round(s.median)} ms, naive ${round(n.median)} ms (×${round(n.median / s.median, 1)})`,
    );
  }
  return rows;
}

export interface BaselinesResult {
  wasm: WasmRow[];
  pipeline: PipelineRow[];
}

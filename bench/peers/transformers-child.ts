/**
 * Peers child: transformers.js (@huggingface/transformers, a bench-only devDependency), offline, as a
 * user would write it: `pipeline('image-classification', id, { session_options })`, the photo's
 * bytes in memory through `RawImage.fromBlob`, top-5 labels. Inference is the time of the pipeline's
 * own `this.model({ pixel_values })` call inside each run (its `_call`, wrapped with a clock).
 * PEERS_MODEL is env.localModelPath, PEERS_MODEL_ID the folder under it (bench/peers/hf-model.ts).
 */
import { readFileSync } from 'node:fs';
import { env, pipeline, RawImage } from '@huggingface/transformers';
import { childSettings, emit } from './child-protocol';

async function main() {
  const s = childSettings();
  if (s.task !== 'classification') throw new Error('transformers.js: classification only');
  const id = process.env.PEERS_MODEL_ID;
  if (!id) throw new Error('PEERS_MODEL_ID is not set');
  const bytes = readFileSync(s.image);
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = s.model;
  env.useFSCache = false;
  const classifier = await pipeline('image-classification', id, {
    dtype: 'fp32',
    device: 'cpu',
    session_options: { intraOpNumThreads: s.threads, interOpNumThreads: 1 },
  });
  emit('first', { loadMs: Math.round(performance.now()) });

  // The pipeline calls `this.model(inputs)`; a transformers.js model is a Callable whose call
  // forwards to its `_call`, looked up on each call, so wrapping it times exactly that stage.
  const model = classifier.model as unknown as { _call: (inputs: unknown) => Promise<unknown> };
  const original = model._call.bind(model);
  let inferenceMs = NaN;
  model._call = async (inputs: unknown) => {
    const t = performance.now();
    const out = await original(inputs);
    inferenceMs = performance.now() - t;
    return out;
  };

  const once = async () => {
    const t = performance.now();
    const image = await RawImage.fromBlob(new Blob([bytes]));
    const top = (await classifier(image, { top_k: 5 })) as { label: string; score: number }[];
    return { e2e: performance.now() - t, inference: inferenceMs, answer: top.map((p) => p.label) };
  };
  for (let i = 0; i < s.warmUp; i++) await once();
  const e2e: number[] = [];
  const inference: number[] = [];
  let answer: unknown = null;
  for (let i = 0; i < s.runs; i++) {
    const r = await once();
    e2e.push(r.e2e);
    inference.push(r.inference);
    answer = r.answer;
  }
  emit('runs', { e2eMs: e2e, inferenceMs: inference, answer });
  await classifier.dispose();
}

main().catch((e: unknown) => {
  emit('error', { message: (e as Error).message });
  process.exitCode = 1;
});

/**
 * Peers child: this project, in process. The service's classify/detect path as `npm run classify`
 * and the handlers use it: `createService(loadConfig(env)).recognize(task, bytes, …)`, the photo's
 * bytes in memory. Prints `{"event": …}` lines: `first` once the model is loaded (and warmed, as the
 * service does on preload), then `runs`. Started by bench/sections/peers.ts; settings from PEERS_*.
 */
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../lambda/src/adapters/config';
import { createService } from '../../lambda/src/service/create-service';
import { prepareMissing } from '../../local/prepare-on-load';
import { childSettings, emit } from './child-protocol';

async function main() {
  const s = childSettings();
  const bytes = readFileSync(s.image);
  const config = loadConfig();
  const service = createService(config, { prepareMissing });
  const outcome = await service.preload(config.preload);
  if (outcome.some((o) => !o.ok)) throw new Error(`preload failed: ${JSON.stringify(outcome)}`);
  emit('first', { loadMs: Math.round(performance.now()) });
  const once = async () => {
    const t = performance.now();
    const r =
      s.task === 'classification'
        ? await service.recognize('classification', bytes, { topK: 5, format: 'json' })
        : await service.recognize('detection', bytes, { topK: 5, format: 'json' });
    const e2e = performance.now() - t;
    const answer =
      r.task === 'classification' ? r.predictions.map((p) => p.label) : { detections: r.detections.length };
    return { e2e, inference: r.timings.inferenceMs, answer };
  };
  for (let i = 0; i < s.warmUp; i++) await once();
  const e2eMs: number[] = [];
  const inferenceMs: number[] = [];
  let answer: unknown = null;
  for (let i = 0; i < s.runs; i++) {
    const r = await once();
    e2eMs.push(r.e2e);
    inferenceMs.push(r.inference);
    answer = r.answer;
  }
  emit('runs', { e2eMs, inferenceMs, answer });
  await service.close();
}

main().catch((e: unknown) => {
  emit('error', { message: (e as Error).message });
  process.exitCode = 1;
});

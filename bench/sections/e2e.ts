import { randomUUID } from 'node:crypto';
import type { LocalServer } from '../../local/server';
import type { LambdaHandler } from '../../lambda/src/transports/lambda-handler';
import type { BenchImage } from '../lib/images';
import { log } from '../lib/log';
import { round, summarize, timed, type Summary } from '../lib/stats';

export interface StageTimings {
  decodeMs: number;
  preprocessMs: number;
  inferenceMs: number;
  postprocessMs: number;
  totalMs: number;
}

export interface E2eRow {
  via: 'handler' | 'http';
  model: string;
  image: string;
  n: number;
  /** Medians of the service's own stage timings. */
  stages: StageTimings;
  /** Wall time seen by the caller (handler call, or HTTP round trip). */
  client: Summary;
  /** Process CPU time per request (server and client share this process). */
  cpu: Summary;
  /** Service total / service inference (same requests). */
  totalOverInference: number;
  /** Client median / bare onnxruntime median (section 1, same thread count). */
  clientOverBare: number | null;
}

interface Answer {
  status: number;
  timings?: StageTimings;
}

const route = (task: 'classification' | 'detection') =>
  task === 'classification' ? '/classifier' : '/detector';

export function handlerEvent(path: string, model: string, image: Buffer) {
  return {
    httpMethod: 'POST',
    path,
    queryStringParameters: { model },
    headers: { 'Content-Type': 'image/jpeg' },
    body: image.toString('base64'),
    isBase64Encoded: true,
    requestContext: { requestId: randomUUID() },
  };
}

async function viaHandler(
  handler: LambdaHandler,
  path: string,
  model: string,
  image: Buffer,
): Promise<Answer> {
  const res = (await handler(handlerEvent(path, model, image) as never)) as {
    statusCode: number;
    body: string;
  };
  const body = JSON.parse(res.body) as { timings?: StageTimings };
  return { status: res.statusCode, timings: body.timings };
}

async function viaHttp(url: string, path: string, model: string, image: Buffer): Promise<Answer> {
  const res = await fetch(`${url}${path}?model=${encodeURIComponent(model)}`, {
    method: 'POST',
    headers: { 'Content-Type': 'image/jpeg' },
    body: new Uint8Array(image.buffer, image.byteOffset, image.length) as Uint8Array<ArrayBuffer>,
  });
  const body = (await res.json()) as { timings?: StageTimings };
  return { status: res.status, timings: body.timings };
}

const median = (rows: StageTimings[], key: keyof StageTimings) => summarize(rows.map((r) => r[key])).median;

/** (2) End to end through the Lambda handler and the local HTTP server. */
export async function runE2e(
  server: LocalServer,
  handler: LambdaHandler,
  models: { id: string; task: 'classification' | 'detection'; bareMs: number | null }[],
  images: BenchImage[],
  n: number,
): Promise<E2eRow[]> {
  const rows: E2eRow[] = [];
  for (const m of models) {
    for (const image of images) {
      for (const via of ['handler', 'http'] as const) {
        const call = () =>
          via === 'handler'
            ? viaHandler(handler, route(m.task), m.id, image.bytes)
            : viaHttp(server.url, route(m.task), m.id, image.bytes);
        const warm = await call(); // loads the model if needed; not counted
        if (warm.status !== 200) throw new Error(`${via} ${m.id} ${image.name}: HTTP ${warm.status}`);
        const stages: StageTimings[] = [];
        const client: number[] = [];
        const cpu: number[] = [];
        for (let i = 0; i < n; i++) {
          const { value: a, wallMs, cpuMs } = await timed(call);
          client.push(wallMs);
          cpu.push(cpuMs);
          if (a.status !== 200 || !a.timings) throw new Error(`${via} ${m.id}: HTTP ${a.status}`);
          stages.push(a.timings);
        }
        const s: StageTimings = {
          decodeMs: median(stages, 'decodeMs'),
          preprocessMs: median(stages, 'preprocessMs'),
          inferenceMs: median(stages, 'inferenceMs'),
          postprocessMs: median(stages, 'postprocessMs'),
          totalMs: median(stages, 'totalMs'),
        };
        const c = summarize(client);
        rows.push({
          via,
          model: m.id,
          image: image.name,
          n,
          stages: s,
          client: c,
          cpu: summarize(cpu),
          totalOverInference: s.totalMs / s.inferenceMs,
          clientOverBare: m.bareMs ? c.median / m.bareMs : null,
        });
        log(
          `e2e ${via} ${m.id} ${image.name}: decode ${round(s.decodeMs)} pre ${round(s.preprocessMs)} infer ${round(s.inferenceMs)} post ${round(s.postprocessMs)} total ${round(s.totalMs)} ms; client ${round(c.median)} ms`,
        );
      }
    }
  }
  return rows;
}

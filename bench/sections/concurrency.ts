import autocannon from 'autocannon';
import type { BenchImage } from '../lib/images';
import { log } from '../lib/log';
import { round } from '../lib/stats';

export interface ConcurrencyRow {
  model: string;
  connections: number;
  durationS: number;
  requests: number;
  throughputRps: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  /** 1000 / bare inference median: one session run back to back. */
  inferenceOnlyRps: number | null;
  /** throughput / inference-only throughput. */
  efficiency: number | null;
  /**
   * The server's own CPU time per request (user + system over all its threads, onnxruntime's
   * included, from /proc/<pid>/stat of the server's process; the load generator runs elsewhere).
   */
  serverCpuMsPerRequest: number | null;
  /** serverCpuMsPerRequest / the same at 1 connection: 1.0 = no contention overhead. */
  cpuVsOneConnection: number | null;
  /** What p99 may be when requests only queue: min(connections, queue limit + 1) × p50 at 1 connection. */
  queueBoundMs: number | null;
}

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
}

const run = (opts: Record<string, unknown>) =>
  (autocannon as unknown as (o: Record<string, unknown>) => Promise<AutocannonResult>)(opts);

/**
 * (3) Throughput and latency under 1, 2, 4 and 8 concurrent clients sending one raw JPEG, and the
 * server's CPU time per request (`server.cpuMs`, when the server runs in a process of its own).
 */
export async function runConcurrency(
  server: { url: string; cpuMs?: () => number; maxQueuePerModel: number },
  models: { id: string; path: string; bareMs: number | null }[],
  image: BenchImage,
  connections: number[],
  durationS: number,
): Promise<ConcurrencyRow[]> {
  const { url } = server;
  const rows: ConcurrencyRow[] = [];
  for (const m of models) {
    // One request first: the model's first run is slow (onnxruntime allocates its buffers).
    await fetch(`${url}${m.path}?model=${encodeURIComponent(m.id)}`, {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg' },
      body: new Uint8Array(
        image.bytes.buffer,
        image.bytes.byteOffset,
        image.bytes.length,
      ) as Uint8Array<ArrayBuffer>,
    }).then((r) => r.arrayBuffer());
    let oneConnection: { cpu: number | null; p50: number } | undefined;
    for (const c of connections) {
      const cpuBefore = server.cpuMs?.() ?? null;
      const r = await run({
        url: `${url}${m.path}?model=${encodeURIComponent(m.id)}`,
        method: 'POST',
        headers: { 'content-type': 'image/jpeg' },
        body: image.bytes,
        connections: c,
        duration: durationS,
        timeout: 60,
      });
      const cpuAfter = server.cpuMs?.() ?? null;
      const inferenceOnlyRps = m.bareMs ? 1000 / m.bareMs : null;
      const throughputRps = r.requests.total / r.duration;
      const cpu =
        cpuBefore !== null && cpuAfter !== null && r.requests.total > 0
          ? (cpuAfter - cpuBefore) / r.requests.total
          : null;
      if (c === 1) oneConnection = { cpu, p50: r.latency.p50 };
      rows.push({
        model: m.id,
        connections: c,
        durationS: r.duration,
        requests: r.requests.total,
        throughputRps,
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        non2xx: r.non2xx,
        errors: r.errors + r.timeouts,
        inferenceOnlyRps,
        efficiency: inferenceOnlyRps ? throughputRps / inferenceOnlyRps : null,
        serverCpuMsPerRequest: cpu,
        cpuVsOneConnection: cpu !== null && oneConnection?.cpu ? cpu / oneConnection.cpu : null,
        queueBoundMs: oneConnection ? Math.min(c, server.maxQueuePerModel + 1) * oneConnection.p50 : null,
      });
      log(
        `concurrency ${m.id} c=${c}: ${round(throughputRps, 2)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, server CPU ${cpu === null ? '–' : round(cpu, 1)} ms/request, non2xx ${r.non2xx}, errors ${r.errors}`,
      );
    }
  }
  return rows;
}

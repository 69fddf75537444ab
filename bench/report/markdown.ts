import { renderDecode } from '../sections/decode';
import { renderPeers } from '../sections/peers';
import { renderYolov4Split } from '../sections/yolov4-split';
import { renderBulk } from '../sections/bulk';
import { LAMBDA_X86_PRICE } from '../sections/lambda-sizing';
import type { BenchResults } from '../lib/types';

const f = (v: number | null | undefined, digits = 1): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);

function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function machine(r: BenchResults): string {
  const m = r.machine;
  const flags = Object.entries(m.flags)
    .filter(([, on]) => on)
    .map(([k]) => k)
    .join(', ');
  const v = r.versions;
  return [
    `- **CPU**: ${m.cpuModel} (family ${m.cpuFamily ?? '?'}, model ${m.cpuModelNumber ?? '?'}), ${m.logicalCpus} logical CPUs, ${f(m.cpuMHz, 0)} MHz reported; ${m.memoryGb} GB RAM; ${m.os}, kernel ${m.kernel}`,
    `- **Flags**: ${flags || 'none of interest'}`,
    `- **Versions**: node ${v.node}, onnxruntime-node ${v.onnxruntimeNode}, onnxruntime-web ${v.onnxruntimeWeb}, sharp ${v.sharp} (libvips ${v.libvips}), protobufjs ${v.protobufjs}, autocannon ${v.autocannon}`,
    `- **Settings**: ${r.settings.quick ? 'quick' : 'full'} run; threads ${r.settings.threads.join(', ')}; ${r.settings.runs} timed runs (${r.settings.slowRuns} for YOLOv4) after one first run; service uses ORT_INTRA_OP_THREADS=${r.settings.serviceIntraOpThreads}; graph optimisation 'all'; allocator ${allocatorLine(r.settings.allocatorEnv)}`,
    `- **Load average** (other tenants share this machine): start ${r.load.start.join(' / ')}, during mean ${r.load.during.mean} max ${f(r.load.during.max, 2)}, end ${r.load.end.join(' / ')}. With ${r.machine.logicalCpus} CPUs, a load above ${r.machine.logicalCpus} means wall times are inflated; the CPU-time columns are less affected.`,
    `- **Duration**: ${f(r.durationS, 0)} s`,
    ...r.notes.map((n) => `- ${n}`),
  ].join('\n');
}

function inference(r: BenchResults): string {
  if (!r.inference) return '';
  return [
    '## 1. Inference (onnxruntime-node, CPU EP)',
    '',
    'Milliseconds. "cpu" is process CPU time per run (all threads), a contention-robust companion to wall time.',
    '',
    table(
      ['model', 'threads', 'batch', 'create', 'first run', 'min', 'median', 'p90', 'cpu median', 'per image'],
      r.inference.map((x) => [
        x.label,
        x.threads,
        x.batch,
        f(x.createMs, 0),
        f(x.firstRunMs),
        f(x.wall.min),
        f(x.wall.median),
        f(x.wall.p90),
        f(x.cpu.median),
        f(x.perImageMs),
      ]),
    ),
  ].join('\n');
}

function mish(r: BenchResults): string {
  const m = r.mish;
  if (!m) return '';
  const parts = [
    '## Mish rewrite (YOLOv4 stand-in, before/after, interleaved runs)',
    '',
    `${m.replaced} chains replaced. Rewrite in memory (parse and splice, weights not copied) ${f(m.rewriteMs, 0)} ms; prepareModel into an empty cache (read 257 MB, rewrite, write) ${f(m.prepareColdMs, 0)} ms; with the cached file ${m.prepare.cached ? `${f(m.prepare.ms, 0)} ms` : '(not measured this run)'}.`,
    '',
    table(
      ['threads', 'rounds', 'variant', 'min', 'median', 'p90', 'cpu median', 'max abs diff'],
      m.ab.flatMap((t) =>
        t.variants.map((v) => [
          t.threads,
          t.rounds,
          v.name,
          f(v.wall.min),
          f(v.wall.median),
          f(v.wall.p90),
          f(v.cpu.median),
          v.maxAbsDiff.toExponential(1),
        ]),
      ),
    ),
    '',
    `Speed-up (before/after medians): ${m.ab.map((t) => `${t.threads} thread(s): wall ×${f(t.speedupWall, 3)}, cpu ×${f(t.speedupCpu, 3)}`).join('; ')}.`,
  ];
  const [p1] = m.profile;
  if (p1) {
    const ops = [...new Set([...p1.before.byOp, ...p1.after.byOp].map((o) => o.op))];
    const cell = (p: typeof p1.before, op: string) => {
      const o = p.byOp.find((x) => x.op === op);
      return o ? `${f(o.ms)} (${f(o.share * 100, 1)}%, ${o.nodes})` : '–';
    };
    parts.push(
      '',
      `onnxruntime profiler (${p1.before.runs} runs per variant; each node's fastest kernel time summed, which approximates an idle machine): ${m.profile.map((p) => `${p.threads} thread(s) ${f(p.before.totalMs)} → ${f(p.after.totalMs)} ms (×${f(p.before.totalMs / p.after.totalMs, 3)})`).join('; ')}. Per op type at ${p1.threads} thread, ms (share, nodes):`,
      '',
      table(
        ['op', 'before', 'after'],
        ops.map((op) => [op, cell(p1.before, op), cell(p1.after, op)]),
      ),
    );
  }
  if (m.forms) {
    parts.push(
      '',
      'Candidate forms, 1 thread:',
      '',
      table(
        ['form', 'median', 'cpu median', 'max abs diff'],
        m.forms.variants.map((v) => [
          v.name,
          f(v.wall.median),
          f(v.cpu.median),
          v.maxAbsDiff.toExponential(1),
        ]),
      ),
    );
  }
  const o = m.ortOptimizedLoad;
  parts.push(
    '',
    `Session creation from onnxruntime's saved optimised graph (optimizedModelFilePath, loaded with optimisation disabled) vs from the rewritten .onnx, ${o.threads} threads: ${o.createFromOrtOptimizedMs.map((v) => f(v, 0)).join(' / ')} ms vs ${o.createFromOnnxMs.map((v) => f(v, 0)).join(' / ')} ms (outputs max abs diff ${o.maxAbsDiff.toExponential(1)}).`,
  );
  return parts.join('\n');
}

function e2e(r: BenchResults): string {
  if (!r.e2e) return '';
  return [
    '## 2. End to end (service stage medians, ms)',
    '',
    "Stage timings come from the service's own answer; client = wall time seen by the caller; client cpu = process CPU time per request (server and client share this process; onnxruntime's threads spin briefly after each run, so it exceeds wall time at 2 threads); client / bare = client median over the bare inference median of section 1 at the service's thread count.",
    '',
    table(
      [
        'via',
        'model',
        'image',
        'n',
        'decode',
        'preprocess',
        'inference',
        'postprocess',
        'total',
        'client',
        'client cpu',
        'total / inference',
        'client / bare',
      ],
      r.e2e.map((x) => [
        x.via,
        x.model,
        x.image,
        x.n,
        f(x.stages.decodeMs),
        f(x.stages.preprocessMs),
        f(x.stages.inferenceMs),
        f(x.stages.postprocessMs),
        f(x.stages.totalMs),
        f(x.client.median),
        f(x.cpu.median),
        f(x.totalOverInference, 2),
        f(x.clientOverBare, 2),
      ]),
    ),
  ].join('\n');
}

function concurrency(r: BenchResults): string {
  if (!r.concurrency) return '';
  return [
    '## 3. Concurrency (local server, autocannon, raw JPEG body: dog.jpg)',
    '',
    "The server runs in a process of its own; server CPU ms/request = its user + system time over all its threads (onnxruntime's included, from /proc/<pid>/stat) divided by the requests answered, so the load generator's CPU is not in it (it still shares the 2 vCPUs). CPU vs 1 = that per-request CPU over the same at 1 connection (1.0: no contention overhead). Queue bound = min(connections, MAX_QUEUE_PER_MODEL + 1) × p50 at 1 connection: what p99 may be when requests only wait in the model's queue.",
    '',
    table(
      [
        'model',
        'connections',
        'req/s',
        'p50 ms',
        'p99 ms',
        'non-2xx',
        'errors',
        'inference-only req/s',
        'efficiency',
        'server CPU ms/request',
        'CPU vs 1',
        'queue bound ms',
      ],
      r.concurrency.map((x) => [
        x.model,
        x.connections,
        f(x.throughputRps, 2),
        f(x.p50Ms, 0),
        f(x.p99Ms, 0),
        x.non2xx,
        x.errors,
        f(x.inferenceOnlyRps, 2),
        f(x.efficiency, 2),
        f(x.serverCpuMsPerRequest, 1),
        f(x.cpuVsOneConnection, 2),
        f(x.queueBoundMs, 0),
      ]),
    ),
  ].join('\n');
}

function allocatorLine(env: Record<string, string | null> | undefined): string {
  if (!env) return 'not recorded';
  const set = Object.entries(env).filter(([, v]) => v !== null);
  return set.length ? set.map(([k, v]) => `${k}=${v}`).join(' ') : 'glibc defaults';
}

function coldStart(r: BenchResults): string {
  if (!r.coldStart) return '';
  return [
    '## 4–5. Cold start and memory (new node process per model, Lambda handler)',
    '',
    'spawn → first 200 on the parent clock; modules = node + tsx + runtime modules loaded (child clock); init = config, service and session creation (with the warm-up run, unless WARM_UP=0; see 4c); RSS in MB.',
    '',
    table(
      [
        'model',
        'allocator',
        'spawn → first 200',
        'modules',
        'init',
        'first request',
        'peak RSS loaded',
        'requests after',
        'mean ms',
        'RSS after',
        'peak RSS after',
      ],
      r.coldStart.map((x) => [
        x.model,
        x.allocator ?? 'not recorded',
        f(x.spawnToFirstMs, 0),
        x.modulesLoadedMs,
        x.initMs,
        x.firstRequestMs,
        f(x.peakRssMb, 0),
        x.after ? `${x.after.requests}${x.after.failures ? ` (${x.after.failures} failed)` : ''}` : '–',
        f(x.after?.meanMs),
        f(x.after?.rssMb, 0),
        f(x.after?.maxRssMb, 0),
      ]),
    ),
  ].join('\n');
}

function warmUp(r: BenchResults): string {
  const w = r.warmUp;
  if (!w?.rows.length) return '';
  // The other stages of the same requests, medians over the rounds: what the warm-up does not reach.
  const stages = (x: (typeof w.rows)[number], which: 'firstTimings' | 'steadyTimings') => {
    const g = w.runs.filter((run) => run.model === x.model && run.warmUp === x.warmUp);
    const med = (k: string) => {
      const v = g
        .map((run) => run[which]?.[k])
        .filter((n): n is number => typeof n === 'number')
        .sort((a, b) => a - b);
      return v.length ? (v[Math.floor((v.length - 1) / 2)]! + v[Math.ceil((v.length - 1) / 2)]!) / 2 : null;
    };
    return ['decodeMs', 'preprocessMs', 'postprocessMs'].map((k) => f(med(k))).join(' / ');
  };
  return [
    '## 4c. First request with and without the start-up warm-up',
    '',
    `Per model, fresh processes as in section 4–5 (Lambda handler, dog.jpg, allocator settings on) with \`WARM_UP=1\` (on: init runs each preloaded model once on a small gray JPEG, decoded, packed and postprocessed) and \`WARM_UP=0\` (off), interleaved over ${w.rounds} rounds (on, off, then off, on). init = config, service, session creation and the warm-up run when on; first request = the handler's first answer (wall, child clock); steady = median of the requests that followed in the same process; inference = the service's own \`timings.inferenceMs\`. decode / pre / post = the service's other stages of the same requests. Medians over the rounds, ms; ratios are medians of the per-round ratios.`,
    '',
    table(
      [
        'model',
        'warm-up',
        'rounds',
        'requests after',
        'spawn → first 200',
        'init',
        'first request',
        'steady',
        'first / steady',
        'first inference',
        'steady inference',
        'first / steady inference',
        'first decode / pre / post',
        'steady decode / pre / post',
      ],
      w.rows.map((x) => [
        x.model,
        x.warmUp,
        x.rounds,
        x.requests,
        f(x.spawnToFirstMs, 0),
        f(x.initMs, 0),
        f(x.firstRequestMs),
        f(x.steadyMs),
        f(x.firstOverSteady, 2),
        f(x.firstInferenceMs),
        f(x.steadyInferenceMs),
        f(x.firstOverSteadyInference, 2),
        stages(x, 'firstTimings'),
        stages(x, 'steadyTimings'),
      ]),
    ),
  ].join('\n');
}

function baselines(r: BenchResults): string {
  const b = r.baselines;
  if (!b) return '';
  return [
    '## 6. Baselines',
    '',
    'onnxruntime-web (WebAssembly, 1 thread, in Node) vs onnxruntime-node at 1 thread:',
    '',
    table(
      ['model', 'wasm create', 'wasm first', 'wasm median', 'native median', 'wasm / native'],
      b.wasm.map((x) => [
        x.model,
        f(x.createMs, 0),
        f(x.firstRunMs, 0),
        f(x.wall.median),
        f(x.nativeMs),
        f(x.ratio, 2),
      ]),
    ),
    '',
    'Decode + preprocess to the ResNet-50 tensor: the service (libvips shrink-on-load, resize, crop, one packing pass) vs a naive pipeline (full decode to raw, JavaScript bilinear resize, per-pixel normalise):',
    '',
    table(
      ['image', 'service median', 'naive median', 'naive / service'],
      b.pipeline.map((x) => [x.image, f(x.service.median), f(x.naive.median), f(x.ratio, 1)]),
    ),
  ].join('\n');
}

function floor(r: BenchResults): string {
  const fl = r.floor;
  if (!fl) return '';
  return [
    '## 7. Compute floor',
    '',
    `Theoretical peak: ${f(fl.peak.fp32PeakGflops, 0)} GFLOP/s fp32 and ${f(fl.peak.int8PeakGops, 0)} GOP/s int8 over ${fl.peak.cores} cores (${fl.peak.fp32FmaPerCycle} fp32 FMA and ${fl.peak.int8MacPerCycle} int8 MAC per core per cycle at ${f(fl.peak.clockGHz, 2)} GHz). Assumptions:`,
    '',
    ...fl.peak.assumptions.map((a) => `- ${a}`),
    '',
    `Measured fp32 GEMM (onnxruntime MatMul ${fl.gemm[0]?.n ?? '?'}³, fastest run): ${fl.gemm.map((g) => `${g.threads} thread(s) ${f(g.gflops, 0)} GFLOP/s`).join(', ')}. Latency below is the median.`,
    '',
    table(
      ['model', 'GMAC', 'threads', 'latency ms', 'achieved GFLOP/s', 'floor ms at peak', 'share of peak'],
      fl.rows.map((x) => [
        x.model,
        f(x.gmac, 2),
        x.threads,
        f(x.latencyMs),
        f(x.achievedGflops, 0),
        f(x.floorMs, 1),
        `${f(x.fractionOfPeak * 100, 0)}%`,
      ]),
    ),
  ].join('\n');
}

function lambda(r: BenchResults): string {
  if (!r.lambda) return '';
  const models = r.lambda[0]?.latency.map((l) => l.model) ?? [];
  return [
    '## 8. Lambda sizing',
    '',
    '1 vCPU per 1,769 MB (6 at most); the handler runs floor(memory/1769) intra-op threads (1–6). Latency = bare inference median on this machine; *italic* = extrapolated (Amdahl fit to the 1→2-thread speed-up of the fastest runs); – = no 1→2-thread speed-up was measured (the second CPU was busy), so nothing to extrapolate from. Lambda CPUs differ from this one.',
    '',
    table(
      ['memory MB', 'vCPUs', 'threads', ...models.map((m) => `${m} ms`)],
      r.lambda.map((row) => [
        row.memoryMb,
        f(row.vcpus, 2),
        row.threads,
        ...row.latency.map((l) => (l.source === 'extrapolated' ? `*${f(l.ms)}*` : f(l.ms))),
      ]),
    ),
    lambdaCostTable(r),
  ].join('\n');
}

function lambdaCostTable(r: BenchResults): string {
  const rows = r.lambdaCost;
  if (!rows?.length) return '';
  const p = LAMBDA_X86_PRICE;
  const models = rows[0]?.costs.map((c) => c.model) ?? [];
  return [
    '',
    '### 8b. What a million requests cost',
    '',
    `Billed duration = the inference latency above + the rest of a request as measured end to end through the handler on dog.jpg (section 2: decode, pre/postprocessing; the same for every size, since it runs on one thread), rounded up to the ms. GB-seconds = memory/1024 × seconds. Price: x86, ${p.region}, first tier, $${p.perGbSecond} per GB-second + $${p.perMillionRequests} per million requests (aws.amazon.com/lambda/pricing, checked ${p.checked}); no free tier, no API Gateway or CloudFront charges. *Italic* = from an extrapolated latency.`,
    '',
    table(
      ['memory MB', 'threads', ...models.flatMap((m) => [`${m} ms`, `${m} $/M`])],
      rows.map((row) => [
        row.memoryMb,
        row.threads,
        ...row.costs.flatMap((c) => {
          const mark = (v: string) => (c.source === 'extrapolated' ? `*${v}*` : v);
          return [
            mark(f(c.durationMs)),
            mark(c.dollarsPerMillion === null ? '–' : f(c.dollarsPerMillion, 2)),
          ];
        }),
      ]),
    ),
  ].join('\n');
}

function packagedColdStart(r: BenchResults): string {
  const rows = r.packagedColdStart;
  if (!rows?.length) return '';
  const groups = new Map<string, typeof rows>();
  for (const row of rows) {
    const key = `${row.model}\u0000${row.file}\u0000${row.allocator}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  const span = (values: number[], digits = 0) => {
    const sorted = [...values].sort((a, b) => a - b);
    const lo = f(sorted[0], digits);
    const hi = f(sorted[sorted.length - 1], digits);
    return lo === hi ? lo : `${lo}–${hi}`;
  };
  return [
    '## 4b. Cold start of the packaged Lambda folder (what the image runs)',
    '',
    "`npm run package` into a temporary folder; per run a new `node` process there requires index.js (init: config, manifest, the model's session) and answers one API Gateway event with dog.jpg. Model file: `as downloaded` = the .onnx as published (weights inside; YOLOv4 with the zoo Mish), `prepared` = what the image’s build makes of it (Mish rewritten, weights in an external file onnxruntime maps). Allocator: `tuned` = lambda/allocator-env.json (as the image and the function set it), `glibc defaults` = without it. Rounds alternate the variants. Ranges over the rounds; ms and MB.",
    '',
    table(
      [
        'model',
        'model file',
        'allocator',
        'runs',
        'spawn → first 200',
        'node start',
        'require index.js',
        'init + first answer',
        'peak RSS',
        'peak RSS after 5 more',
      ],
      [...groups.values()].map((g) => [
        g[0]!.model,
        g[0]!.file,
        g[0]!.allocator,
        g.length,
        span(g.map((x) => x.spawnToFirstMs)),
        span(g.map((x) => x.nodeStartMs)),
        span(g.map((x) => x.requireMs)),
        span(g.map((x) => x.firstAnswerMs)),
        span(g.map((x) => x.peakRssMb ?? NaN)),
        span(g.map((x) => x.peakRssAfterMb ?? NaN)),
      ]),
    ),
  ].join('\n');
}

function batch(r: BenchResults): string {
  const b = r.batch;
  if (!b) return '';
  const bare = b.bare.map((x) => [
    x.model,
    x.threads,
    x.batch,
    x.rounds,
    f(x.perImage.min, 2),
    f(x.perImage.median, 2),
    f(x.speedup, 3),
  ]);
  return [
    '## Several images per request (batch)',
    '',
    `A ${b.images.length}-image \`recognizeBatch\` against ${b.images.length} single \`recognize\` calls through one service (${b.threads} intra-op threads), rounds interleaved with the order rotated; the photos are the fixture photos (${[...new Set(b.images)].join(', ')}) twice. "singles, in turn" is a client sending one request after another; "all at once" sends all ${b.images.length} together. Stage columns: the service's own timings, mean per image (a batch item's inference is its share of its chunk's run). ratio = singles-in-turn wall / this wall, median over rounds.`,
    '',
    table(
      [
        'model',
        'variant',
        'images per run',
        'decodes at once',
        'rounds',
        'ms for 16 (median)',
        'min',
        'images/s',
        'ratio',
        'cpu ms/image',
        'decode',
        'preprocess',
        'inference',
        'postprocess',
      ],
      b.service.map((x) => [
        x.model,
        x.variant,
        x.maxBatch,
        x.decodeConcurrency ?? '–',
        x.rounds,
        f(x.wall.median),
        f(x.wall.min),
        f(x.imagesPerS),
        f(x.ratioToSingles, 2),
        f(x.cpuPerImageMs),
        f(x.stages.decodeMs),
        f(x.stages.preprocessMs, 2),
        f(x.stages.inferenceMs),
        f(x.stages.postprocessMs, 2),
      ]),
    ),
    '',
    'Bare onnxruntime, ms per image at each batch size (one run divided by its images), rounds interleaved:',
    '',
    table(['model', 'threads', 'batch', 'rounds', 'min', 'median', 'speed-up vs batch 1'], bare),
    '',
    'Memory per batch size: a new process per row loads the model (service session options) and runs it three times at that batch; RSS in MB.',
    '',
    table(
      ['model', 'batch', 'RSS loaded', 'peak RSS after runs', 'growth', 'fastest ms/image'],
      b.rss.map((x) => [
        x.model,
        x.batch,
        f(x.loadedMb),
        f(x.peakMb),
        f(x.growthMb),
        f(x.fastestPerImageMs, 2),
      ]),
    ),
    '',
    `Decoding the ${b.images.length} photos for ResNet-50's input (the service's decoder), k at a time:`,
    '',
    table(
      ['at a time', 'rounds', 'median ms', 'min ms', 'images/s'],
      b.decode.map((x) => [x.concurrency, x.rounds, f(x.wall.median), f(x.wall.min), f(x.imagesPerS, 0)]),
    ),
  ].join('\n');
}

function decode(r: BenchResults): string {
  // The section's own report, under the main report's numbering.
  return r.decode ? renderDecode(r.decode).replace(/^# .*$/m, '## 9. Decoding (dog.jpg)') : '';
}

function peers(r: BenchResults): string {
  return r.peers
    ? renderPeers(r.peers).replace(/^#{1,3} .*$/m, '## 10. Peers: what users would pick instead')
    : '';
}

function yolov4Split(r: BenchResults): string {
  return r.yolov4Split
    ? renderYolov4Split(r.yolov4Split).replace(/^#{1,3} .*$/m, '## 11. YOLOv4 against its convolution floor')
    : '';
}

function bulk(r: BenchResults): string {
  return r.bulk
    ? renderBulk(r.bulk).replace(
        /^#{1,3} .*$/m,
        '## 12. A folder of photos: the folder CLI against a curl loop',
      )
    : '';
}

export function renderMarkdown(r: BenchResults): string {
  return [
    `# Benchmark ${r.date} on ${r.machine.host}`,
    '',
    machine(r),
    '',
    ...[
      inference,
      mish,
      e2e,
      concurrency,
      batch,
      coldStart,
      packagedColdStart,
      warmUp,
      baselines,
      floor,
      lambda,
      decode,
      peers,
      yolov4Split,
      bulk,
    ]
      .map((s) => s(r))
      .filter(Boolean)
      .flatMap((s) => [s, '']),
  ].join('\n');
}

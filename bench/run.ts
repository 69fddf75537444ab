/**
 * `npm run bench` (full, about 15 minutes) or `npm run bench -- --quick` (under 3 minutes on an
 * idle 2-vCPU machine). Writes bench/results/<date>-<host>.json and .md. Options:
 *   --quick               fewer runs, fewer models in the slow sections
 *   --only=a,b            sections: inference, mish, e2e, concurrency, batch, cold-start, packaged,
 *                         baselines, floor, lambda, decode, peers, yolov4-split, bulk
 *   --clock-ghz=3.7       clock for the theoretical peak (default: /proc/cpuinfo)
 *   --out=DIR             results folder (default bench/results)
 */
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

// The handler's logger and metrics read the real environment: keep them quiet.
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

import allocatorEnv from '../lambda/allocator-env.json';
import { createLambdaHandler } from '../lambda/src/transports/lambda-handler';
import { writeAtomically } from '../lambda/src/adapters/verified-write';
import { startLocalServer } from '../local/server';
import { dogJpeg, twelveMegapixelJpeg } from './lib/images';
import { log } from './lib/log';
import { machineInfo, startLoadSampler, versions } from './lib/machine';
import { countMacs } from './lib/macs';
import { BENCH_CACHE, benchModels, FIXTURE_IMAGES, quantizedYolov4, rewrittenYolov4 } from './lib/models';
import { startServerChild } from './lib/server-child';
import { benchEnv, writeBenchManifest } from './lib/service-env';
import type { BenchResults, BenchSettings } from './lib/types';
import { renderMarkdown } from './report/markdown';
import { runPipeline, runWasm } from './sections/baselines';
import { runBatch } from './sections/batch';
import { runColdStart, runWarmUpAb } from './sections/cold-start';
import { runConcurrency } from './sections/concurrency';
import { runDecode } from './sections/decode';
import { runPeers } from './sections/peers';
import { runYolov4Split } from './sections/yolov4-split';
import { runBulk } from './sections/bulk';
import { runE2e } from './sections/e2e';
import { runPackagedColdStart } from './sections/packaged-cold-start';
import { floorRows, measureGemm, peakModel } from './sections/floor';
import { bareMedian, runInference } from './sections/inference';
import { lambdaCost, lambdaSizing } from './sections/lambda-sizing';
import { runMish } from './sections/mish';
import { ensureBenchModels } from './standins/make-bench-models';

const ALL = [
  'inference',
  'mish',
  'e2e',
  'concurrency',
  'batch',
  'cold-start',
  'packaged',
  'baselines',
  'floor',
  'lambda',
  'decode',
  'peers',
  'yolov4-split',
  'bulk',
];

function readArgs(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      'clock-ghz': { type: 'string' },
      out: { type: 'string' },
    },
  });
  const only = values.only?.split(',').filter(Boolean) ?? ALL;
  const unknown = only.filter((s) => !ALL.includes(s));
  if (unknown.length) throw new Error(`unknown section(s) ${unknown.join(', ')}; known: ${ALL.join(', ')}`);
  const clock = values['clock-ghz'];
  return {
    quick: values.quick,
    only,
    clockGHz: clock ? Number(clock) : null,
    out: path.resolve(values.out ?? path.join(__dirname, 'results')),
  };
}

function settingsFor(quick: boolean, sections: string[]): BenchSettings {
  return {
    quick,
    sections,
    threads: [1, 2],
    runs: quick ? 10 : 30,
    slowRuns: quick ? 5 : 30,
    mishRounds: quick ? 4 : 20,
    e2eRequests: quick ? 3 : 15,
    concurrency: [1, 2, 4, 8],
    concurrencyDurationS: quick ? 3 : 10,
    batchRounds: quick ? 3 : 10,
    rssRequests: quick ? { classifier: 300, detector: 10 } : { classifier: 2000, detector: 200 },
    warmUpRounds: quick ? 2 : 5,
    wasmRuns: quick ? 3 : 10,
    serviceIntraOpThreads: 2,
    allocatorEnv: Object.fromEntries(Object.keys(allocatorEnv).map((k) => [k, process.env[k] ?? null])),
  };
}

async function main() {
  const args = readArgs(process.argv.slice(2));
  const started = performance.now();
  const stopLoad = startLoadSampler();
  const settings = settingsFor(args.quick, args.only);
  const has = (s: string) => args.only.includes(s);
  const machine = machineInfo();
  const results: BenchResults = {
    date: new Date().toISOString(),
    durationS: 0,
    machine,
    versions: versions(),
    settings,
    load: { start: machine.loadAverageAtStart, during: { samples: 0, mean: 0, max: 0 }, end: [] },
    notes: [
      'ResNet-50 and YOLOv4 are random-weight stand-ins with the zoo graphs (bench/standins); their timings transfer, their outputs mean nothing.',
      'Cold starts run the TypeScript sources through tsx; a bundled Lambda image skips that transpile step.',
    ],
  };

  for (const m of ensureBenchModels()) log(`stand-in written: ${m.file} (${m.bytes} bytes)`);
  const yolo = await rewrittenYolov4();
  log(
    `YOLOv4 Mish rewrite: ${yolo.replaced} chains, ${Math.round(yolo.prepareMs)} ms (${yolo.cached ? 'cached' : 'written'}) → ${yolo.file}`,
  );
  const models = benchModels(yolo.file, await quantizedYolov4());
  const manifest = writeBenchManifest(yolo.file);
  const [dog, big] = [await dogJpeg(), await twelveMegapixelJpeg()];
  const latency = (model: string, threads: number) =>
    results.inference ? bareMedian(results.inference, model, threads) : null;

  if (has('inference')) {
    results.inference = await runInference(models, {
      threads: settings.threads,
      runs: settings.runs,
      slowRuns: settings.slowRuns,
    });
  }

  if (has('mish')) {
    results.mish = await runMish(
      models.find((m) => m.key === 'yolov4')!.file,
      yolo.file,
      { ms: yolo.prepareMs, cached: yolo.cached },
      {
        threads: settings.threads,
        rounds: settings.mishRounds,
        forms: !args.quick,
        loadRepeats: args.quick ? 1 : 3,
        profileRuns: args.quick ? 3 : 8,
      },
    );
  }

  if (has('e2e') || has('concurrency')) {
    const server = await startLocalServer({ port: 0, env: benchEnv(manifest) });
    try {
      const preload = await server.preload;
      const failed = preload.filter((p) => !p.ok);
      if (failed.length) throw new Error(`preload failed: ${JSON.stringify(failed)}`);
      const handler = createLambdaHandler(server.service, server.config, {});
      const t = settings.serviceIntraOpThreads;
      if (has('e2e')) {
        results.e2e = await runE2e(
          server,
          handler,
          [
            { id: 'resnet50-v1-12', task: 'classification', bareMs: latency('resnet50', t) },
            { id: 'yolov4', task: 'detection', bareMs: latency('yolov4', t) },
            { id: 'yolov4-mish-rewrite', task: 'detection', bareMs: latency('yolov4-mish', t) },
          ],
          [dog, big],
          settings.e2eRequests,
        );
      }
      /** The service's own inference median for dog.jpg via the handler (same process, same time). */
      const serviceInference = (id: string) =>
        results.e2e?.find((r) => r.model === id && r.via === 'handler' && r.image === dog.name)?.stages
          .inferenceMs ?? null;
      if (has('concurrency')) {
        // The server in a process of its own: its CPU time, read from /proc, is the server's alone
        // (autocannon shares the 2 vCPUs but not the process).
        const alone = await startServerChild(benchEnv(manifest));
        try {
          results.concurrency = await runConcurrency(
            { url: alone.url, cpuMs: alone.cpuMs, maxQueuePerModel: server.config.maxQueuePerModel },
            [
              {
                id: 'resnet50-v1-12',
                path: '/classifier',
                bareMs: serviceInference('resnet50-v1-12') ?? latency('resnet50', t),
              },
              ...(args.quick
                ? []
                : [
                    {
                      id: 'yolov4-mish-rewrite',
                      path: '/detector',
                      bareMs: serviceInference('yolov4-mish-rewrite') ?? latency('yolov4-mish', t),
                    },
                  ]),
            ],
            dog,
            settings.concurrency,
            settings.concurrencyDurationS,
          );
        } finally {
          await alone.close();
        }
      }
    } finally {
      await server.close();
    }
  }

  if (has('batch')) {
    results.batch = await runBatch(manifest, models, {
      threads: settings.serviceIntraOpThreads,
      rounds: settings.batchRounds ?? 3,
      bareRounds: args.quick ? 5 : 15,
      decodeRounds: args.quick ? 3 : 10,
      bareBatches: [1, 2, 4, 8, 16],
      extraMaxBatches: args.quick
        ? { 'resnet50-v1-12': [1, 8] }
        : { 'resnet50-v1-12': [1, 2, 8, 16], 'mobilenetv2-12-int8': [1, 8, 16] },
      rssBatches: args.quick
        ? { resnet50: [1, 4, 8] }
        : { resnet50: [1, 2, 4, 8, 16], 'mobilenetv2-int8': [1, 4, 8, 16] },
      extraDecodeConcurrency: args.quick ? [] : [4],
    });
  }

  if (has('cold-start')) {
    const { classifier, detector } = settings.rssRequests;
    results.coldStart = await runColdStart(
      [
        { id: '', route: '/health', requests: 0, detector: false },
        { id: 'resnet50-v1-12', route: '/classifier', requests: classifier, detector: false },
        { id: 'resnet50-v1-12', route: '/classifier', requests: 0, detector: false, glibcDefaults: true },
        ...(args.quick
          ? []
          : [
              { id: 'resnet50-v1-12-int8', route: '/classifier', requests: classifier, detector: false },
              { id: 'mobilenetv2-12-int8', route: '/classifier', requests: classifier, detector: false },
            ]),
        { id: 'yolov4', route: '/detector', requests: detector, detector: true },
        { id: 'yolov4-mish-rewrite', route: '/detector', requests: detector, detector: true },
        { id: 'yolov4-mish-rewrite', route: '/detector', requests: 0, detector: true, glibcDefaults: true },
      ],
      benchEnv(manifest),
      path.join(FIXTURE_IMAGES, 'dog.jpg'),
    );
    // The first request with and without the start-up warm-up, each model in fresh processes.
    results.warmUp = await runWarmUpAb(
      [
        { id: 'resnet50-v1-12', route: '/classifier', requests: 10, detector: false },
        ...(args.quick
          ? []
          : [{ id: 'resnet50-v1-12-int8', route: '/classifier', requests: 10, detector: false }]),
        { id: 'mobilenetv2-12-int8', route: '/classifier', requests: 10, detector: false },
        { id: 'yolox-nano', route: '/detector', requests: 10, detector: true },
        ...(args.quick
          ? []
          : [{ id: 'yolov4-mish-rewrite', route: '/detector', requests: 5, detector: true }]),
      ],
      benchEnv(manifest),
      path.join(FIXTURE_IMAGES, 'dog.jpg'),
      settings.warmUpRounds ?? 2,
    );
  }

  if (has('packaged')) {
    results.packagedColdStart = await runPackagedColdStart(
      [
        {
          id: 'resnet50-v1-12',
          file: models.find((m) => m.key === 'resnet50')!.file,
          route: '/classifier',
          detector: false,
        },
        {
          id: 'yolov4',
          file: models.find((m) => m.key === 'yolov4')!.file,
          route: '/detector',
          detector: true,
        },
      ],
      benchEnv(manifest),
      path.join(FIXTURE_IMAGES, 'dog.jpg'),
      args.quick ? 2 : 3,
      path.join(BENCH_CACHE, 'packaged-prepared'),
    );
  }

  if (has('baselines')) {
    const wasmModels = models.filter((m) =>
      args.quick
        ? ['resnet50', 'resnet50-int8', 'mobilenetv2-int8', 'yolox-nano'].includes(m.key)
        : m.key !== 'yolov4-mish' && m.key !== 'yolov4-int8',
    );
    results.baselines = {
      wasm: await runWasm(wasmModels, settings.wasmRuns, (key) => latency(key, 1)),
      pipeline: await runPipeline([dog, big], args.quick ? 3 : 10),
    };
  }

  if (has('floor')) {
    const macs: Record<string, number> = {};
    for (const m of models) macs[m.key] = m.gmac ?? (await countMacs(m.file, m.dims(1))).gmac;
    const macsKnown = (key: string) => macs[key] ?? null;
    const gemm = await measureGemm(settings.threads, 1536, args.quick ? 12 : 30);
    // The fastest fp32 work on one thread (GEMM, or a model's fastest run) bounds the clock from below.
    const oneThread = [
      gemm.find((g) => g.threads === 1)?.gflops ?? 0,
      ...(results.inference ?? [])
        .filter((r) => r.threads === 1 && !models.find((m) => m.key === r.model)?.int8 && macsKnown(r.model))
        .map((r) => (2 * macsKnown(r.model)! * r.batch) / (r.wall.min / 1000)),
    ];
    const peak = peakModel(machine, args.clockGHz, Math.max(...oneThread) || null);
    results.floor = {
      peak,
      gemm,
      macs,
      rows: floorRows(
        models.map((m) => ({ key: m.key, gmac: macs[m.key]!, int8: m.int8 })),
        latency,
        peak,
        gemm,
        settings.threads,
      ),
    };
  }

  if (has('lambda')) {
    const fastest = (model: string, threads: number) =>
      results.inference?.find((r) => r.model === model && r.threads === threads && r.batch === 1)?.wall.min ??
      null;
    results.lambda = lambdaSizing(
      ['resnet50', 'resnet50-int8', 'yolov4', 'yolov4-mish', 'yolov4-int8'],
      latency,
      fastest,
    );
    // The rest of a request (decode, pre/post, handler) from the end-to-end run of the same
    // pipeline: ResNet-50's for both ResNet-50s, YOLOv4's for every YOLOv4.
    const restMs = (model: string) => {
      const id = model.startsWith('resnet50') ? 'resnet50-v1-12' : 'yolov4';
      const row = results.e2e?.find((r) => r.model === id && r.via === 'handler' && r.image === dog.name);
      return row ? Math.max(0, row.client.median - row.stages.inferenceMs) : null;
    };
    results.lambdaCost = lambdaCost(results.lambda, restMs);
  }

  if (has('decode')) {
    results.decode = await runDecode({ quick: args.quick, image: 'dog.jpg' });
  }
  if (has('peers')) {
    const resnet = models.find((m) => m.key === 'resnet50');
    if (!resnet) throw new Error('peers: the ResNet-50 stand-in is missing');
    results.peers = await runPeers({
      quick: args.quick,
      threads: settings.serviceIntraOpThreads,
      image: path.join(FIXTURE_IMAGES, 'dog.jpg'),
      resnetStandIn: resnet.file,
      yolov4StandIn: models.find((m) => m.key === 'yolov4')?.file,
    });
  }

  if (has('yolov4-split')) {
    const mish = models.find((m) => m.key === 'yolov4-mish');
    if (!mish) throw new Error('yolov4-split: the Mish-rewritten YOLOv4 stand-in is missing');
    results.yolov4Split = await runYolov4Split({
      quick: args.quick,
      threads: settings.serviceIntraOpThreads,
      model: mish.file,
    });
  }

  if (has('bulk')) {
    results.bulk = await runBulk({
      quick: args.quick,
      env: benchEnv(manifest),
      models: [
        { id: 'mobilenetv2-12-int8', route: '/classifier' },
        ...(args.quick ? [] : [{ id: 'resnet50-v1-12', route: '/classifier' as const }]),
      ],
    });
  }

  results.load.during = stopLoad();
  results.load.end = os.loadavg().map((v) => Math.round(v * 100) / 100);
  results.durationS = (performance.now() - started) / 1000;

  mkdirSync(args.out, { recursive: true });
  const base = path.join(args.out, `${results.date.slice(0, 10)}-${machine.host}`);
  for (const [ext, text] of [
    ['json', `${JSON.stringify(results, null, 1)}\n`],
    ['md', renderMarkdown(results)],
  ] as const) {
    await writeAtomically(`${base}.${ext}`, text);
  }
  log(`done in ${Math.round(results.durationS)} s → ${base}.json, ${base}.md`);
}

main().catch((e: unknown) => {
  log('failed:', (e as Error).stack ?? String(e));
  process.exitCode = 1;
});

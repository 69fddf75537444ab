/**
 * Child process for the batch section (bench/sections/batch.ts): what one batch size costs in
 * memory. A fresh process loads one model with the service's session options, runs it at
 * BENCH_BATCH images a few times, and prints one JSON line: RSS once loaded, peak RSS after the
 * runs (onnxruntime's arena keeps what the largest run needed), and the fastest run per image.
 */
'use strict';
const { readFileSync } = require('node:fs');
const ort = require('onnxruntime-node');

const statusMb = (field) => {
  const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
  return kb ? Math.round(Number(kb[1]) / 102.4) / 10 : null;
};

async function main() {
  const file = process.env.BENCH_MODEL_FILE;
  const batch = Number(process.env.BENCH_BATCH);
  const dims = JSON.parse(process.env.BENCH_DIMS).map((d, i) => (i === 0 ? batch : d));
  const session = await ort.InferenceSession.create(file, {
    intraOpNumThreads: Number(process.env.BENCH_THREADS ?? 2),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableMemPattern: false,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const loadedMb = statusMb('VmRSS');
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = ((i * 7919) % 1000) / 1000;
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, dims) };
  let fastest = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await session.run(feeds);
    fastest = Math.min(fastest, performance.now() - t);
  }
  process.stdout.write(
    `${JSON.stringify({
      event: 'first',
      batch,
      loadedMb,
      peakMb: statusMb('VmHWM'),
      afterMb: statusMb('VmRSS'),
      fastestPerImageMs: fastest / batch,
    })}\n`,
  );
  await session.release();
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ event: 'error', message: String(e && e.stack) })}\n`);
  process.exitCode = 1;
});

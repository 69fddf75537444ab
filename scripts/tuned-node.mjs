#!/usr/bin/env node
/**
 * Runs a TypeScript entry point (`node --import tsx <entry> [args…]`) in a child process whose
 * environment carries the glibc allocator settings of lambda/allocator-env.json: glibc reads them
 * once, when a process starts, so they cannot be set from inside the process that needs them.
 *
 * Why (measured, docs/performance.md "Allocator settings"): creating an onnxruntime session copies
 * the model's weights several times; with glibc's defaults every large block is a fresh mmap, and
 * each 4 KiB page faults on first touch. Large blocks
 * from the heap instead (MALLOC_MMAP_THRESHOLD_ at glibc's 32 MiB maximum), freed memory kept for
 * reuse (MALLOC_TRIM_THRESHOLD_), transparent huge pages for the heap (glibc ≥ 2.35 tunable) and two
 * arenas instead of 16 remove most of those faults. The Lambda image sets the same variables.
 *
 * Variables already in the environment win; ALLOCATOR_TUNING=off starts the entry with glibc's
 * defaults. Used by `npm start`, `npm run classify` and `npm run bench`.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  process.stderr.write('usage: node scripts/tuned-node.mjs <entry.ts> [args…]\n');
  process.exit(2);
}

const tuning = JSON.parse(readFileSync(new URL('../lambda/allocator-env.json', import.meta.url), 'utf8'));
// libvips refuses its untrusted loaders (as in the Lambda image); user values win here too.
const base = { VIPS_BLOCK_UNTRUSTED: '1', ...process.env };
const env = process.env.ALLOCATOR_TUNING === 'off' ? base : { ...tuning, ...base };

const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { stdio: 'inherit', env });

// The child decides how to stop (the server finishes open requests); this process only passes the
// signal on and then leaves with the child's status.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => child.kill(signal));
}
child.on('error', (e) => {
  process.stderr.write(`Could not start ${entry}: ${e.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else {
    process.exit(code ?? 1);
  }
});

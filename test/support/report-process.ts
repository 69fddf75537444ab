/**
 * Entry for test/unit/tuned-node.test.ts: prints what the launcher handed over (arguments and the
 * allocator variables) and exits with the code given as the first argument.
 */
const names = ['MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_', 'GLIBC_TUNABLES'];
const env = Object.fromEntries(names.map((n) => [n, process.env[n] ?? null]));
process.stdout.write(`${JSON.stringify({ args: process.argv.slice(2), env })}\n`);
process.exitCode = Number(process.argv[2] ?? 0);

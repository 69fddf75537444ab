/**
 * The bench's arithmetic that ends up in docs: what a million Lambda requests cost at a size, and a
 * process's CPU time from /proc (the concurrency section's per-request server CPU).
 */
import { lambdaCost, LAMBDA_X86_PRICE, type SizingRow } from '../../bench/sections/lambda-sizing';
import { processCpuMs } from '../../bench/lib/server-child';

const row = (
  memoryMb: number,
  ms: number | null,
  source: 'measured' | 'extrapolated' | 'n/a',
): SizingRow => ({
  memoryMb,
  vcpus: memoryMb / 1769,
  threads: 1,
  latency: [{ model: 'm', ms, source }],
});

describe('lambdaCost', () => {
  it('bills memory/1024 GB for the inference plus the rest of the request, rounded up to the ms', () => {
    const [cost] = lambdaCost([row(1769, 99.2, 'measured')], () => 0.5);
    const billedSeconds = 0.1; // 99.2 + 0.5 → 100 ms
    const gbSeconds = (1769 / 1024) * billedSeconds;
    expect(cost?.costs[0]).toEqual({
      model: 'm',
      durationMs: 100,
      source: 'measured',
      gbSeconds,
      dollarsPerMillion: gbSeconds * 1e6 * LAMBDA_X86_PRICE.perGbSecond + LAMBDA_X86_PRICE.perMillionRequests,
    });
    // 1,769 MB for 100 ms: about $3.08 per million requests at the first-tier x86 price.
    expect(cost?.costs[0]?.dollarsPerMillion).toBeCloseTo(3.079, 3);
  });

  it('keeps an extrapolated latency marked, and says nothing when a latency or the rest is unknown', () => {
    expect(lambdaCost([row(5307, 50, 'extrapolated')], () => 10)[0]?.costs[0]?.source).toBe('extrapolated');
    expect(lambdaCost([row(3008, null, 'n/a')], () => 10)[0]?.costs[0]?.dollarsPerMillion).toBeNull();
    expect(lambdaCost([row(3008, 40, 'measured')], () => null)[0]?.costs[0]?.durationMs).toBeNull();
  });
});

it('processCpuMs reads this process’s CPU time, which grows while it computes', () => {
  const before = processCpuMs(process.pid);
  // Spin until node's own account says 100 ms of CPU went by (wall time would depend on the load).
  const start = process.cpuUsage();
  let x = 0;
  while ((process.cpuUsage(start).user + process.cpuUsage(start).system) / 1000 < 100) x += Math.sqrt(x + 1);
  expect(x).toBeGreaterThan(0);
  const after = processCpuMs(process.pid);
  expect(before).toBeGreaterThan(0);
  // /proc counts in clock ticks (10 ms): at least 100 ms less one tick.
  expect(after - before).toBeGreaterThanOrEqual(90);
});

import type { MachineInfo } from '../lib/machine';
import { log } from '../lib/log';
import { matmulModel } from '../lib/gemm-model';
import { syntheticInput } from '../lib/models';
import { createSession, measureRuns } from '../lib/ort-run';
import { round } from '../lib/stats';
import * as ort from 'onnxruntime-node';

export interface PeakModel {
  /** fp32 FMA instructions' lanes × FMA pipes per core per cycle. */
  fp32FmaPerCycle: number;
  /** int8 multiply-accumulates per core per cycle (VNNI dot products). */
  int8MacPerCycle: number;
  clockGHz: number;
  cores: number;
  fp32PeakGflops: number;
  int8PeakGops: number;
  assumptions: string[];
}

export interface GemmPeak {
  threads: number;
  n: number;
  medianMs: number;
  minMs: number;
  /** From the fastest run: the peak, least disturbed by other processes. */
  gflops: number;
}

export interface FloorRow {
  model: string;
  gmac: number;
  int8: boolean;
  threads: number;
  latencyMs: number;
  achievedGflops: number;
  /** FLOPs / theoretical peak of the cores in use. */
  floorMs: number;
  /** floor / latency: the share of peak reached. */
  fractionOfPeak: number;
  /** achieved / measured fp32 GEMM rate at the same threads (fp32 models only). */
  fractionOfGemm: number | null;
}

/** Peak arithmetic from the CPU's flags and family (documented assumptions, not measurements). */
export function peakModel(
  m: MachineInfo,
  clockGHz: number | null,
  best1ThreadGflops: number | null,
): PeakModel {
  const assumptions: string[] = [];
  const amd = /AMD/i.test(m.cpuModel);
  const family = Number(m.cpuFamily ?? 0);
  let fma: number;
  if (m.flags.avx512f) {
    if (amd && family === 25) {
      fma = 16;
      assumptions.push('AMD Zen 4 (family 25): AVX-512 runs on 2 × 256-bit FMA pipes = 16 fp32 FMA/cycle');
    } else {
      fma = 32;
      assumptions.push(
        amd
          ? `AMD family ${family} (Zen 5): 2 × 512-bit FMA pipes = 32 fp32 FMA/cycle`
          : 'Intel AVX-512: 2 × 512-bit FMA ports = 32 fp32 FMA/cycle (1-port SKUs have half)',
      );
    }
  } else if (m.flags.avx2 && m.flags.fma) {
    fma = 16;
    assumptions.push('AVX2: 2 × 256-bit FMA = 16 fp32 FMA/cycle');
  } else {
    fma = 8;
    assumptions.push('no AVX2/FMA: 8 fp32 FLOP pairs/cycle');
  }
  // /proc/cpuinfo inside a VM shows the nominal (TSC) clock; a core that boosts beats that peak.
  // Unless --clock-ghz is given, the clock is the larger of that and what the fastest fp32 work on
  // one thread (GEMM or a model) implies if it reached 90% of the FMA peak.
  const reported = m.cpuMHz ? m.cpuMHz / 1000 : 2;
  const implied = best1ThreadGflops ? best1ThreadGflops / (2 * fma * 0.9) : 0;
  const clock = clockGHz ?? Math.max(reported, implied);
  assumptions.unshift(
    clockGHz
      ? `clock ${clock} GHz given with --clock-ghz`
      : implied > reported
        ? `clock ${round(clock, 2)} GHz: implied by the fastest fp32 work on one thread (${round(best1ThreadGflops ?? 0, 0)} GFLOP/s, GEMM or a model's fastest run) taken as 90% of the FMA peak; /proc/cpuinfo reports ${round(reported, 2)} GHz, the nominal clock, which the core evidently exceeds (boost). Pass --clock-ghz to fix it`
        : `clock ${round(clock, 2)} GHz from /proc/cpuinfo`,
  );
  const vnni = m.flags.avx512_vnni || m.flags.avx_vnni;
  const int8 = vnni ? fma * 4 : fma * 2;
  assumptions.push(
    vnni
      ? 'int8: VNNI dot products do 4 u8·s8 MACs per fp32 lane = 4 × the fp32 FMA rate'
      : 'int8 without VNNI: about 2 × the fp32 FMA rate',
  );
  assumptions.push(`${m.logicalCpus} logical CPUs counted as cores (a vCPU may be one SMT thread of a core)`);
  return {
    fp32FmaPerCycle: fma,
    int8MacPerCycle: int8,
    clockGHz: clock,
    cores: m.logicalCpus,
    fp32PeakGflops: 2 * fma * clock * m.logicalCpus,
    int8PeakGops: 2 * int8 * clock * m.logicalCpus,
    assumptions,
  };
}

/** A large fp32 MatMul in onnxruntime: the practical peak the convolutions can hope for. */
export async function measureGemm(threads: number[], n: number, runs: number): Promise<GemmPeak[]> {
  const bytes = matmulModel(n);
  const out: GemmPeak[] = [];
  for (const t of threads) {
    const session = await createSession(bytes, t);
    try {
      const feeds = { A: new ort.Tensor('float32', syntheticInput(n * n, 5), [n, n]) };
      const r = await measureRuns(session, feeds, runs);
      const gflops = (2 * n ** 3) / (r.wall.min / 1000) / 1e9;
      out.push({ threads: t, n, medianMs: r.wall.median, minMs: r.wall.min, gflops });
      log(
        `gemm ${n}³ t=${t}: min ${round(r.wall.min, 2)} ms = ${round(gflops, 0)} GFLOP/s (median ${round(r.wall.median, 2)} ms)`,
      );
    } finally {
      await session.release();
    }
  }
  return out;
}

/** (7) Each model's arithmetic against the CPU's peak. */
export function floorRows(
  models: { key: string; gmac: number; int8: boolean }[],
  latency: (model: string, threads: number) => number | null,
  peak: PeakModel,
  gemm: GemmPeak[],
  threads: number[],
): FloorRow[] {
  const rows: FloorRow[] = [];
  for (const m of models) {
    for (const t of threads) {
      const ms = latency(m.key, t);
      if (ms === null) continue;
      const flop = 2 * m.gmac * 1e9;
      const perCore = (m.int8 ? peak.int8PeakGops : peak.fp32PeakGflops) / peak.cores;
      const floorMs = (flop / (perCore * Math.min(t, peak.cores) * 1e9)) * 1000;
      const achieved = flop / (ms / 1000) / 1e9;
      const g = gemm.find((x) => x.threads === t);
      rows.push({
        model: m.key,
        gmac: m.gmac,
        int8: m.int8,
        threads: t,
        latencyMs: ms,
        achievedGflops: achieved,
        floorMs,
        fractionOfPeak: floorMs / ms,
        fractionOfGemm: !m.int8 && g ? achieved / g.gflops : null,
      });
    }
  }
  return rows;
}

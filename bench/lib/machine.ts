import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

const ROOT = path.resolve(__dirname, '../..');

export interface MachineInfo {
  host: string;
  cpuModel: string;
  cpuFamily: string | null;
  cpuModelNumber: string | null;
  logicalCpus: number;
  availableParallelism: number;
  /** Current clock from /proc/cpuinfo (often the nominal/TSC clock inside a VM). */
  cpuMHz: number | null;
  flags: Record<string, boolean>;
  memoryGb: number;
  os: string;
  kernel: string;
  loadAverageAtStart: number[];
}

export interface Versions {
  node: string;
  onnxruntimeNode: string;
  onnxruntimeWeb: string;
  sharp: string;
  libvips: string;
  protobufjs: string;
  autocannon: string;
}

const FLAGS = [
  'fma',
  'avx',
  'avx2',
  'avx512f',
  'avx512bw',
  'avx512vl',
  'avx512_vnni',
  'avx_vnni',
  'avx512_bf16',
  'amx_tile',
  'amx_int8',
  'amx_bf16',
];

function cpuinfo(): Record<string, string> {
  try {
    const first = readFileSync('/proc/cpuinfo', 'utf8').split('\n\n')[0] ?? '';
    return Object.fromEntries(
      first
        .split('\n')
        .map((l) => l.split(':').map((s) => s.trim()))
        .filter((kv): kv is [string, string] => kv.length >= 2 && kv[0] !== '')
        .map(([k, v]) => [k, v]),
    );
  } catch {
    return {};
  }
}

export function machineInfo(): MachineInfo {
  const info = cpuinfo();
  const flags = new Set((info.flags ?? '').split(/\s+/));
  return {
    host: os.hostname(),
    cpuModel: info['model name'] ?? os.cpus()[0]?.model ?? 'unknown',
    cpuFamily: info['cpu family'] ?? null,
    cpuModelNumber: info.model ?? null,
    logicalCpus: os.cpus().length,
    availableParallelism: os.availableParallelism(),
    cpuMHz: info['cpu MHz'] ? Number(info['cpu MHz']) : null,
    flags: Object.fromEntries(FLAGS.map((f) => [f, flags.has(f)])),
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.arch()}`,
    kernel: os.release(),
    loadAverageAtStart: os.loadavg().map((v) => Math.round(v * 100) / 100),
  };
}

const pkgVersion = (name: string): string => {
  try {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string;
    };
    return pkg.version;
  } catch {
    return 'unknown';
  }
};

export function versions(): Versions {
  return {
    node: process.version,
    onnxruntimeNode: pkgVersion('onnxruntime-node'),
    onnxruntimeWeb: pkgVersion('onnxruntime-web'),
    sharp: sharp.versions.sharp,
    libvips: sharp.versions.vips,
    protobufjs: pkgVersion('protobufjs'),
    autocannon: pkgVersion('autocannon'),
  };
}

/** Samples the 1-minute load average while the benchmark runs (others may share the CPU). */
export function startLoadSampler(intervalMs = 5000): () => { samples: number; mean: number; max: number } {
  const values: number[] = [os.loadavg()[0] ?? 0];
  const timer = setInterval(() => values.push(os.loadavg()[0] ?? 0), intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    values.push(os.loadavg()[0] ?? 0);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    return { samples: values.length, mean: Math.round(mean * 100) / 100, max: Math.max(...values) };
  };
}

import type { BaselinesResult } from '../sections/baselines';
import type { BatchResult } from '../sections/batch';
import type { ColdStartRow, WarmUpResult } from '../sections/cold-start';
import type { ConcurrencyRow } from '../sections/concurrency';
import type { E2eRow } from '../sections/e2e';
import type { FloorRow, GemmPeak, PeakModel } from '../sections/floor';
import type { InferenceRow } from '../sections/inference';
import type { CostRow, SizingRow } from '../sections/lambda-sizing';
import type { DecodeResult } from '../sections/decode';
import type { PeersResult } from '../sections/peers';
import type { Yolov4Split } from '../sections/yolov4-split';
import type { BulkResult } from '../sections/bulk';
import type { MishResult } from '../sections/mish';
import type { PackagedColdStartRow } from '../sections/packaged-cold-start';
import type { MachineInfo, Versions } from './machine';

export interface BenchSettings {
  quick: boolean;
  sections: string[];
  threads: number[];
  runs: number;
  slowRuns: number;
  mishRounds: number;
  e2eRequests: number;
  concurrency: number[];
  concurrencyDurationS: number;
  /** Interleaved rounds of the batch section's 16-image request vs 16 single requests. */
  batchRounds?: number;
  rssRequests: { classifier: number; detector: number };
  /** Interleaved rounds of the cold-start section's WARM_UP=1 / WARM_UP=0 processes, per model. */
  warmUpRounds?: number;
  wasmRuns: number;
  serviceIntraOpThreads: number;
  /** The glibc allocator variables this process started with (scripts/tuned-node.mjs sets them). */
  allocatorEnv?: Record<string, string | null>;
}

export interface BenchResults {
  date: string;
  durationS: number;
  machine: MachineInfo;
  versions: Versions;
  settings: BenchSettings;
  load: { start: number[]; during: { samples: number; mean: number; max: number }; end: number[] };
  notes: string[];
  inference?: InferenceRow[];
  mish?: MishResult;
  e2e?: E2eRow[];
  concurrency?: ConcurrencyRow[];
  batch?: BatchResult;
  coldStart?: ColdStartRow[];
  /** The cold-start section's first request with and without the start-up warm-up. */
  warmUp?: WarmUpResult;
  packagedColdStart?: PackagedColdStartRow[];
  baselines?: BaselinesResult;
  floor?: { peak: PeakModel; gemm: GemmPeak[]; macs: Record<string, number>; rows: FloorRow[] };
  lambda?: SizingRow[];
  lambdaCost?: CostRow[];
  decode?: DecodeResult;
  peers?: PeersResult;
  yolov4Split?: Yolov4Split;
  bulk?: BulkResult;
}

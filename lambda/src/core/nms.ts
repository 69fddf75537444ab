import type { Box } from './geometry';

export interface Candidate {
  box: Box;
  classId: number;
  score: number;
}

export function iou(a: Box, b: Box): number {
  const iw = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const ih = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

export interface NmsOptions {
  iouThreshold: number;
  classAgnostic: boolean;
  maxDetections: number;
  /** Only the best N candidates enter the O(n²) loop, so a very low threshold cannot stall a request. */
  maxCandidates?: number;
}

/** Greedy NMS: keep the best box, drop the ones overlapping it more than the threshold, repeat. */
export function nonMaxSuppression(candidates: readonly Candidate[], opts: NmsOptions): Candidate[] {
  const sorted = [...candidates].sort((a, b) => b.score - a.score).slice(0, opts.maxCandidates ?? 2000);
  const kept: Candidate[] = [];
  const suppressed = new Uint8Array(sorted.length);
  for (let i = 0; i < sorted.length && kept.length < opts.maxDetections; i++) {
    if (suppressed[i]) continue;
    const a = sorted[i] as Candidate;
    kept.push(a);
    for (let j = i + 1; j < sorted.length; j++) {
      if (suppressed[j]) continue;
      const b = sorted[j] as Candidate;
      if ((opts.classAgnostic || a.classId === b.classId) && iou(a.box, b.box) > opts.iouThreshold)
        suppressed[j] = 1;
    }
  }
  return kept;
}

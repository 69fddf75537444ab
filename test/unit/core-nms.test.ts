import type { Box } from '../../lambda/src/core/geometry';
import { iou, nonMaxSuppression, type Candidate } from '../../lambda/src/core/nms';

const box = (x1: number, y1: number, x2: number, y2: number): Box => ({ x1, y1, x2, y2 });
const cand = (b: Box, classId: number, score: number): Candidate => ({ box: b, classId, score });
const opts = { iouThreshold: 0.5, classAgnostic: false, maxDetections: 100 };

describe('iou', () => {
  it('two 10×10 boxes offset by (5,5): intersection 25, union 175 → 1/7', () => {
    expect(iou(box(0, 0, 10, 10), box(5, 5, 15, 15))).toBeCloseTo(1 / 7, 12);
  });

  it('identical boxes → 1', () => {
    expect(iou(box(1, 2, 3, 4), box(1, 2, 3, 4))).toBe(1);
  });

  it('a box holding half of the other → 0.5', () => {
    expect(iou(box(0, 0, 10, 10), box(0, 0, 5, 10))).toBe(0.5);
  });

  it('disjoint boxes and boxes that only touch on an edge → 0', () => {
    expect(iou(box(0, 0, 10, 10), box(20, 20, 30, 30))).toBe(0);
    expect(iou(box(0, 0, 10, 10), box(10, 0, 20, 10))).toBe(0);
  });

  it('is symmetric', () => {
    const a = box(0, 0, 8, 6);
    const b = box(3, 2, 12, 9);
    expect(iou(a, b)).toBe(iou(b, a));
  });

  it('degenerate (zero-area) boxes → 0, never NaN', () => {
    expect(iou(box(5, 5, 5, 5), box(5, 5, 5, 5))).toBe(0);
  });
});

describe('nonMaxSuppression', () => {
  it('suppresses a lower-scored box of the same class that overlaps above the threshold', () => {
    const best = cand(box(0, 0, 10, 10), 3, 0.9);
    const dup = cand(box(1, 0, 11, 10), 3, 0.8); // IoU 90/110 ≈ 0.82
    expect(nonMaxSuppression([dup, best], opts)).toEqual([best]);
  });

  it('keeps overlapping boxes of different classes (per-class NMS)', () => {
    const a = cand(box(0, 0, 10, 10), 1, 0.9);
    const b = cand(box(1, 0, 11, 10), 2, 0.8);
    expect(nonMaxSuppression([a, b], opts)).toEqual([a, b]);
  });

  it('class-agnostic NMS suppresses them across classes', () => {
    const a = cand(box(0, 0, 10, 10), 1, 0.9);
    const b = cand(box(1, 0, 11, 10), 2, 0.8);
    expect(nonMaxSuppression([a, b], { ...opts, classAgnostic: true })).toEqual([a]);
  });

  it('keeps a same-class box whose IoU equals the threshold exactly (suppression is strict >)', () => {
    const a = cand(box(0, 0, 10, 10), 0, 0.9);
    const b = cand(box(0, 0, 5, 10), 0, 0.8); // IoU 0.5
    expect(nonMaxSuppression([a, b], opts)).toHaveLength(2);
  });

  it('returns results best score first', () => {
    const far = (i: number, s: number) => cand(box(i * 100, 0, i * 100 + 10, 10), 0, s);
    const out = nonMaxSuppression([far(0, 0.3), far(1, 0.9), far(2, 0.6)], opts);
    expect(out.map((c) => c.score)).toEqual([0.9, 0.6, 0.3]);
  });

  it('honours maxDetections, keeping the best ones', () => {
    const far = (i: number, s: number) => cand(box(i * 100, 0, i * 100 + 10, 10), 0, s);
    const out = nonMaxSuppression([far(0, 0.1), far(1, 0.5), far(2, 0.4), far(3, 0.9)], {
      ...opts,
      maxDetections: 2,
    });
    expect(out.map((c) => c.score)).toEqual([0.9, 0.5]);
  });

  it('a suppressed box does not suppress others (chain A > B > C, only A–B and B–C overlap)', () => {
    const a = cand(box(0, 0, 10, 10), 0, 0.9);
    const b = cand(box(4, 0, 14, 10), 0, 0.8); // IoU(a,b) = 60/140 ≈ 0.43
    const c = cand(box(8, 0, 18, 10), 0, 0.7); // IoU(b,c) ≈ 0.43, IoU(a,c) = 20/180
    expect(nonMaxSuppression([a, b, c], { ...opts, iouThreshold: 0.4 })).toEqual([a, c]);
  });

  it('only the best maxCandidates enter the loop', () => {
    const far = (i: number, s: number) => cand(box(i * 100, 0, i * 100 + 10, 10), 0, s);
    const out = nonMaxSuppression([far(0, 0.1), far(1, 0.5), far(2, 0.4)], { ...opts, maxCandidates: 1 });
    expect(out.map((c) => c.score)).toEqual([0.5]);
  });

  it('does not reorder or mutate the input array', () => {
    const input = [cand(box(0, 0, 1, 1), 0, 0.1), cand(box(5, 5, 6, 6), 0, 0.9)];
    const copy = structuredClone(input);
    nonMaxSuppression(input, opts);
    expect(input).toEqual(copy);
  });

  it('returns nothing for no candidates', () => {
    expect(nonMaxSuppression([], opts)).toEqual([]);
  });
});

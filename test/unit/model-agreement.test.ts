/** The maths of `npm run models:evaluate` (tools/model-eval/agreement.ts) on hand-built answers. */
import {
  classificationMetrics,
  classificationVerdict,
  compareClassifications,
  DEFAULT_THRESHOLDS,
  detectionMetrics,
  detectionVerdict,
  matchBoxes,
  type ScoredBox,
} from '../../tools/model-eval/agreement';

const box = (label: string, score: number, x1: number, y1: number, x2: number, y2: number): ScoredBox => ({
  label,
  score,
  box: { x1, y1, x2, y2 },
});

const dog = box('dog', 0.87, 60, 260, 200, 350);
const person = box('person', 0.92, 190, 100, 280, 370);
const horse = box('horse', 0.8, 400, 140, 600, 340);

/** matchBoxes, then the metrics of that one photo. */
function compare(reference: ScoredBox[], candidate: ScoredBox[]) {
  const matching = matchBoxes(reference, candidate);
  return {
    ...matching,
    metrics: detectionMetrics([
      { referenceBoxes: reference.length, candidateBoxes: candidate.length, matches: matching.matches },
    ]),
  };
}

describe('matching boxes', () => {
  it('perfect agreement: every box matched to itself, IoU 1, no drift, precision = recall = 1', () => {
    const r = compare([dog, person, horse], [person, horse, dog]);
    expect(r.matches.map((m) => [m.reference, m.candidate]).sort()).toEqual([
      [0, 2],
      [1, 0],
      [2, 1],
    ]);
    expect(r.missed).toEqual([]);
    expect(r.extra).toEqual([]);
    expect(r.metrics).toEqual({
      referenceBoxes: 3,
      candidateBoxes: 3,
      matched: 3,
      precision: 1,
      recall: 1,
      meanIoU: 1,
      meanScoreDrift: 0,
    });
  });

  it('a box the candidate missed lowers recall, not precision', () => {
    const r = compare([dog, person, horse], [person, horse]);
    expect(r.missed).toEqual([0]);
    expect(r.metrics).toMatchObject({ matched: 2, precision: 1, recall: 2 / 3 });
  });

  it('a box only the candidate has lowers precision, not recall', () => {
    const r = compare([person], [person, box('cat', 0.4, 0, 0, 50, 50)]);
    expect(r.extra).toEqual([1]);
    expect(r.metrics).toMatchObject({ precision: 0.5, recall: 1 });
  });

  it('score drift is the candidate minus the reference; the metric averages its size', () => {
    const r = compare(
      [dog, person],
      [
        { ...dog, score: 0.44 },
        { ...person, score: 0.96 },
      ],
    );
    expect(r.matches.find((m) => m.reference === 0)?.scoreDrift).toBeCloseTo(-0.43, 10);
    expect(r.metrics.meanScoreDrift).toBeCloseTo((0.43 + 0.04) / 2, 10);
  });

  it('a box shifted below IoU 0.5 is both a miss and an extra box; at IoU 0.5 exactly it matches', () => {
    // 100×100 boxes: shifted by 40 → IoU 60·100 / (2·10000 − 6000) = 0.43.
    const ref = box('car', 0.8, 0, 0, 100, 100);
    const shifted = compare([ref], [box('car', 0.8, 40, 0, 140, 100)]);
    expect(shifted.matches).toEqual([]);
    expect(shifted.missed).toEqual([0]);
    expect(shifted.extra).toEqual([0]);
    expect(shifted.metrics).toMatchObject({ precision: 0, recall: 0, meanIoU: null, meanScoreDrift: null });
    // IoU exactly 0.5: a box half the reference's width inside it.
    const half = compare([ref], [box('car', 0.7, 0, 0, 50, 100)]);
    expect(half.matches).toEqual([{ reference: 0, candidate: 0, iou: 0.5, scoreDrift: expect.any(Number) }]);
  });

  it('a class swap is no match, however well the boxes overlap', () => {
    const r = compare([horse], [{ ...horse, label: 'cow' }]);
    expect(r.matches).toEqual([]);
    expect(r.metrics).toMatchObject({ precision: 0, recall: 0 });
  });

  it('empty sets: nothing against nothing agrees fully; nothing against something has recall or precision 0', () => {
    expect(compare([], []).metrics).toEqual({
      referenceBoxes: 0,
      candidateBoxes: 0,
      matched: 0,
      precision: 1,
      recall: 1,
      meanIoU: null,
      meanScoreDrift: null,
    });
    expect(compare([dog], []).metrics).toMatchObject({ precision: 1, recall: 0 });
    expect(compare([], [dog]).metrics).toMatchObject({ precision: 0, recall: 1 });
  });

  it('candidates go highest score first: the best-scored box takes the reference box, a duplicate is extra', () => {
    const low = { ...dog, score: 0.5 };
    const high = { ...dog, score: 0.9, box: { ...dog.box, x1: dog.box.x1 + 5 } };
    const r = compare([dog], [low, high]);
    expect(r.matches).toEqual([expect.objectContaining({ reference: 0, candidate: 1 })]);
    expect(r.extra).toEqual([0]);
  });

  it('ties: equal scores go in list order, equal IoUs take the earlier reference box', () => {
    const twin = compare([dog], [dog, { ...dog }]);
    expect(twin.matches).toEqual([{ reference: 0, candidate: 0, iou: 1, scoreDrift: 0 }]);
    expect(twin.extra).toEqual([1]);
    // One candidate between two reference boxes it overlaps equally (IoU 0.78 each).
    const left = box('dog', 0.7, 0, 0, 100, 100);
    const right = box('dog', 0.7, 25, 0, 125, 100);
    const between = box('dog', 0.7, 12.5, 0, 112.5, 100);
    const r = compare([right, left], [between]);
    expect(r.matches).toEqual([expect.objectContaining({ reference: 0, candidate: 0 })]);
    expect(r.missed).toEqual([1]);
  });

  it('greedy, not optimal: the higher-scored candidate takes its best box even when that costs a match', () => {
    // A overlaps R1 and R2; B overlaps only R1. A (higher score) takes R1 (its best IoU), B finds nothing.
    const r1 = box('person', 0.9, 0, 0, 100, 100);
    const r2 = box('person', 0.9, 30, 0, 130, 100);
    const a = box('person', 0.95, 10, 0, 110, 100); // IoU 0.82 with r1, 0.67 with r2
    const b = box('person', 0.5, -20, 0, 80, 100); // IoU 0.67 with r1, 0.33 with r2
    const m = compare([r1, r2], [a, b]);
    expect(m.matches.map((x) => [x.candidate, x.reference])).toEqual([[0, 0]]);
    expect(m.metrics).toMatchObject({ precision: 0.5, recall: 0.5 });
  });
});

describe('detection metrics over several photos', () => {
  it('pools the counts: every box weighs the same, whichever photo it is on', () => {
    const m = detectionMetrics([
      { referenceBoxes: 1, candidateBoxes: 1, matches: [{ iou: 0.8, scoreDrift: 0.1 }] },
      {
        referenceBoxes: 9,
        candidateBoxes: 3,
        matches: [
          { iou: 0.6, scoreDrift: -0.2 },
          { iou: 1, scoreDrift: 0 },
          { iou: 0.6, scoreDrift: 0.3 },
        ],
      },
    ]);
    expect(m).toMatchObject({ referenceBoxes: 10, candidateBoxes: 4, matched: 4, precision: 1, recall: 0.4 });
    expect(m.meanIoU).toBeCloseTo(0.75, 10);
    expect(m.meanScoreDrift).toBeCloseTo(0.15, 10);
  });
});

describe('classification agreement', () => {
  const ranked = (...pairs: [string, number][]) =>
    pairs.map(([label, probability]) => ({ label, probability }));
  const ref = ranked(['malamute', 0.6], ['husky', 0.3], ['eskimo dog', 0.05]);

  it('the same ranking agrees on top-1 and top-5 with no drift', () => {
    expect(compareClassifications(ref, ref)).toEqual({
      referenceTop1: ref[0],
      candidateTop1: ref[0],
      top1Agrees: true,
      top5Agrees: true,
      candidateProbability: 0.6,
      probabilityDrift: 0,
    });
  });

  it('a swapped top-2 disagrees on top-1, agrees on top-5, and drifts by the reference class’s change', () => {
    const c = compareClassifications(ref, ranked(['husky', 0.5], ['malamute', 0.45], ['eskimo dog', 0.03]));
    expect(c).toMatchObject({ top1Agrees: false, top5Agrees: true, candidateProbability: 0.45 });
    expect(c.probabilityDrift).toBeCloseTo(0.15, 10);
  });

  it('the reference top-1 sixth in the candidate: no top-5 agreement; unlisted counts as probability 0', () => {
    const six = ranked(['a', 0.3], ['b', 0.2], ['c', 0.15], ['d', 0.1], ['e', 0.1], ['malamute', 0.05]);
    expect(compareClassifications(ref, six)).toMatchObject({ top1Agrees: false, top5Agrees: false });
    expect(compareClassifications(ref, ranked(['cat', 0.9]))).toMatchObject({
      candidateProbability: 0,
      probabilityDrift: 0.6,
    });
  });

  it('empty answers: both empty agree, one empty does not', () => {
    expect(compareClassifications([], [])).toMatchObject({ top1Agrees: true, probabilityDrift: null });
    expect(compareClassifications([], ref)).toMatchObject({ top1Agrees: false, top5Agrees: false });
    expect(compareClassifications(ref, [])).toMatchObject({ top1Agrees: false, candidateProbability: 0 });
  });

  it('rates over photos, and the mean drift skips photos without a reference answer', () => {
    const photos = [
      compareClassifications(ref, ref),
      compareClassifications(ref, ranked(['husky', 0.5], ['malamute', 0.4])),
      compareClassifications([], []),
      compareClassifications(ref, ranked(['cat', 0.9])),
    ];
    const m = classificationMetrics(photos);
    expect(m).toMatchObject({ photos: 4, top1Agreements: 2, top5Agreements: 3, top1: 0.5, top5: 0.75 });
    expect(m.meanProbabilityDrift).toBeCloseTo((0 + 0.2 + 0.6) / 3, 10);
  });
});

describe('verdict', () => {
  const metrics = (precision: number, recall: number) => ({
    ...detectionMetrics([]),
    precision,
    recall,
  });

  it('passes when recall and precision reach their thresholds (≥, inclusive)', () => {
    expect(detectionVerdict(metrics(0.93, 0.95), DEFAULT_THRESHOLDS)).toEqual({
      pass: true,
      checks: [
        { metric: 'recall', value: 0.95, min: 0.9, pass: true },
        { metric: 'precision', value: 0.93, min: 0.9, pass: true },
      ],
      line: 'PASS: recall 0.95 ≥ 0.9, precision 0.93 ≥ 0.9',
    });
    expect(detectionVerdict(metrics(0.9, 0.9), DEFAULT_THRESHOLDS).pass).toBe(true);
  });

  it('fails when either falls short, and says which', () => {
    const v = detectionVerdict(metrics(1, 2 / 3), { ...DEFAULT_THRESHOLDS, minPrecision: 0.95 });
    expect(v.pass).toBe(false);
    expect(v.line).toBe('FAIL: recall 0.667 < 0.9, precision 1 ≥ 0.95');
  });

  it('never rounds a failing value up to its threshold', () => {
    expect(detectionVerdict(metrics(1, 0.89999), DEFAULT_THRESHOLDS).line).toBe(
      'FAIL: recall 0.89999 < 0.9, precision 1 ≥ 0.9',
    );
  });

  it('classification: top-1 agreement against --min-top1', () => {
    const m = classificationMetrics([compareClassifications([], [])]);
    expect(classificationVerdict({ ...m, top1: 0.875 }, DEFAULT_THRESHOLDS).line).toBe(
      'FAIL: top-1 agreement 0.875 < 0.9',
    );
    expect(classificationVerdict(m, DEFAULT_THRESHOLDS).line).toBe('PASS: top-1 agreement 1 ≥ 0.9');
  });
});

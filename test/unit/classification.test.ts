import { softmax, topK } from '../../lambda/src/core/classification';

describe('softmax', () => {
  it('sums to 1 and stays finite for very large logits', () => {
    const p = softmax([1000, 1001, 1002]);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(Array.from(p).every(Number.isFinite)).toBe(true);
    expect(p[2]).toBeGreaterThan(p[1]!);
  });
});

describe('topK', () => {
  it('returns the k best scores, best first, lower index first on ties', () => {
    expect(topK([0.1, 0.5, 0.2, 0.5, 0.05], 3)).toEqual([
      { index: 1, score: 0.5 },
      { index: 3, score: 0.5 },
      { index: 2, score: 0.2 },
    ]);
  });
});

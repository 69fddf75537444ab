import { softmax, topK } from '../../lambda/src/core/classification';
import { classifyOutput } from '../../lambda/src/core/postprocess';

const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);

describe('softmax', () => {
  it('sums to 1', () => {
    expect(sum(softmax([0.3, -1.2, 2.5, 0]))).toBeCloseTo(1, 6);
  });

  it('matches exp(x) / Σ exp(x) on small logits', () => {
    const p = softmax([0, 1, 2]);
    const z = 1 + Math.E + Math.E ** 2;
    expect(p[0]).toBeCloseTo(1 / z, 6);
    expect(p[1]).toBeCloseTo(Math.E / z, 6);
    expect(p[2]).toBeCloseTo(Math.E ** 2 / z, 6);
  });

  it('is stable on huge logits: softmax([1000,1001,1002]) equals softmax([0,1,2]) and stays finite', () => {
    const big = softmax([1000, 1001, 1002]);
    expect(Array.from(big).every(Number.isFinite)).toBe(true);
    expect(Array.from(big)).toEqual(Array.from(softmax([0, 1, 2])));
  });

  it('is stable on very negative logits (no 0/0)', () => {
    const p = softmax([-1000, -1000]);
    expect(Array.from(p)).toEqual([0.5, 0.5]);
  });

  it('gives a uniform distribution for equal logits', () => {
    expect(Array.from(softmax([7, 7, 7, 7]))).toEqual([0.25, 0.25, 0.25, 0.25]);
  });

  it('returns a Float32Array of the same length', () => {
    const p = softmax(new Float32Array(10));
    expect(p).toBeInstanceOf(Float32Array);
    expect(p.length).toBe(10);
  });
});

describe('topK', () => {
  it('returns the k highest scores, best first', () => {
    expect(topK([0.1, 0.7, 0.05, 0.9, 0.3], 3)).toEqual([
      { index: 3, score: 0.9 },
      { index: 1, score: 0.7 },
      { index: 4, score: 0.3 },
    ]);
  });

  it('keeps the lower index first on ties, including at the cut-off', () => {
    expect(topK([0.2, 0.5, 0.2, 0.5, 0.2], 3)).toEqual([
      { index: 1, score: 0.5 },
      { index: 3, score: 0.5 },
      { index: 0, score: 0.2 },
    ]);
  });

  it('returns all entries when k exceeds the length', () => {
    expect(topK([1, 3, 2], 10).map((r) => r.index)).toEqual([1, 2, 0]);
  });

  it('k = 1 is the arg-max', () => {
    expect(topK(Float32Array.from([-3, -1, -2]), 1)).toEqual([{ index: 1, score: -1 }]);
  });
});

describe('classifyOutput', () => {
  const labels = { names: ['cat', 'dog', 'fox'], synsets: ['n1 cat', 'n2 dog', 'n3 fox'] };

  it('applies softmax to logits and returns label, synset, classId and probability rounded to 6 digits', () => {
    const logits = Float32Array.from([0, 2, 1]);
    const p = softmax(logits);
    expect(
      classifyOutput(
        { data: logits, dims: [1, 3] },
        { family: 'classification', outputIsProbability: false, topK: 5 },
        labels,
        2,
      ),
    ).toEqual([
      { label: 'dog', synset: 'n2 dog', classId: 1, probability: Number(p[1]!.toFixed(6)) },
      { label: 'fox', synset: 'n3 fox', classId: 2, probability: Number(p[2]!.toFixed(6)) },
    ]);
  });

  it('uses the output as-is when the graph already ends in softmax', () => {
    const probs = Float32Array.from([0.25, 0.125, 0.625]);
    const [top] = classifyOutput(
      { data: probs, dims: [1, 3] },
      { family: 'classification', outputIsProbability: true, topK: 5 },
      labels,
      1,
    );
    expect(top).toEqual({ label: 'fox', synset: 'n3 fox', classId: 2, probability: 0.625 });
  });

  it('gives synset null without a synset file, and "class N" past the end of the label list', () => {
    const out = classifyOutput(
      { data: Float32Array.from([0.1, 0.2, 0.3, 0.4]), dims: [1, 4] },
      { family: 'classification', outputIsProbability: true, topK: 5 },
      { names: ['a', 'b', 'c'], synsets: null },
      2,
    );
    expect(out).toEqual([
      { label: 'class 3', synset: null, classId: 3, probability: 0.4 },
      { label: 'c', synset: null, classId: 2, probability: 0.3 },
    ]);
  });
});

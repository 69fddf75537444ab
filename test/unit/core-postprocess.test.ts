import { planResize } from '../../lambda/src/core/geometry';
import { classifyOutput, detectOutput } from '../../lambda/src/core/postprocess';
import { TINY_HEAD } from '../support/tiny-yolo-head';

// One stride-32 head on a 64×64 input: G = 2, one anchor, two classes → [1,2,2,1,7].
const { post, input, labels, opts } = TINY_HEAD;

function head(cells: { gy: number; gx: number; v: number[] }[]) {
  const data = new Float32Array(2 * 2 * 7);
  for (const { gy, gx, v } of cells) data.set(v, (gy * 2 + gx) * 7);
  return { h: { data, dims: [1, 2, 2, 1, 7] } };
}

describe('detectOutput', () => {
  it('decodes, un-letterboxes into original pixels, labels, and rounds box to 0.1 px and score to 4 digits', () => {
    // 128×64 original → ratio 0.5, resize 64×32, pad top 16. Cell (0,1) with t = 0 → centre (48, 16) in input
    // pixels, 32×16 → input box (32, 8)–(64, 24) → original ((32-0)/0.5, (8-16)/0.5 → clipped 0, 128, 16).
    const original = { width: 128, height: 64 };
    const plan = planResize(original, { mode: 'letterbox', align: 'center', padValue: 128 }, input);
    const out = detectOutput(
      head([{ gy: 0, gx: 1, v: [0, 0, 0, 0, 0.9, 0.1, 0.7] }]),
      post,
      input,
      plan,
      original,
      labels,
      opts,
    );
    expect(out).toEqual([
      {
        label: 'dog',
        classId: 1,
        score: 0.63,
        box: { x1: 64, y1: 0, x2: 128, y2: 16 },
        boxNormalized: { x1: 0.5, y1: 0, x2: 1, y2: 0.25 },
      },
    ]);
  });

  it('drops a box that lies wholly in the padding (zero area after clipping)', () => {
    // 64×16 original → ratio 1, pad top 24: the image covers input rows 24..40. Cell (0,0) spans rows 8..24.
    const original = { width: 64, height: 16 };
    const plan = planResize(original, { mode: 'letterbox', align: 'center', padValue: 128 }, input);
    const out = detectOutput(
      head([{ gy: 0, gx: 0, v: [0, 0, 0, 0, 0.9, 0.9, 0] }]),
      post,
      input,
      plan,
      original,
      labels,
      opts,
    );
    expect(out).toEqual([]);
  });

  it('runs NMS after mapping: per class by default, across classes when classAgnosticNms', () => {
    const original = { width: 64, height: 64 };
    const plan = planResize(original, { mode: 'stretch' }, input);
    const cells = [
      // cat 0.81: centre (16,16), 32×16 → (0,8)–(32,24)
      { gy: 0, gx: 0, v: [0, 0, 0, 0, 0.9, 0.9, 0] },
      // cat 0.72: sigmoid(-30) ≈ 0 → centre (32,16) → (16,8)–(48,24); IoU with the first 256/768 = 1/3
      { gy: 0, gx: 1, v: [-30, 0, 0, 0, 0.8, 0.9, 0] },
      // dog 0.63: centre (16,32), height 16·e^ln3 = 48 → (0,8)–(32,56); IoU with the first 512/1536 = 1/3
      { gy: 1, gx: 0, v: [0, -30, 0, Math.log(3), 0.7, 0, 0.9] },
    ];
    const o = { ...opts, iouThreshold: 0.3 };
    const perClass = detectOutput(head(cells), post, input, plan, original, labels, o);
    expect(perClass.map((d) => [d.label, d.score])).toEqual([
      ['cat', 0.81],
      ['dog', 0.63],
    ]);
    expect(perClass[1]!.box).toEqual({ x1: 0, y1: 8, x2: 32, y2: 56 });
    const agnostic = detectOutput(
      head(cells),
      { ...post, classAgnosticNms: true },
      input,
      plan,
      original,
      labels,
      o,
    );
    expect(agnostic.map((d) => d.label)).toEqual(['cat']);
  });

  it('honours maxDetections and the request score threshold', () => {
    const original = { width: 64, height: 64 };
    const plan = planResize(original, { mode: 'stretch' }, input);
    const cells = [
      { gy: 0, gx: 0, v: [0, 0, 0, 0, 0.9, 0.9, 0] }, // 0.81
      { gy: 1, gx: 1, v: [0, 0, 0, 0, 0.8, 0, 0.5] }, // 0.4
    ];
    expect(
      detectOutput(head(cells), post, input, plan, original, labels, { ...opts, maxDetections: 1 }),
    ).toHaveLength(1);
    expect(
      detectOutput(head(cells), post, input, plan, original, labels, { ...opts, scoreThreshold: 0.5 }),
    ).toHaveLength(1);
    expect(detectOutput(head(cells), post, input, plan, original, labels, opts)).toHaveLength(2);
  });

  it('filters classes before NMS: an unwanted class never suppresses a wanted one (class-agnostic NMS)', () => {
    const original = { width: 64, height: 64 };
    const plan = planResize(original, { mode: 'stretch' }, input);
    const cells = [
      // cat 0.81: (0,8)–(32,24)
      { gy: 0, gx: 0, v: [0, 0, 0, 0, 0.9, 0.9, 0] },
      // dog 0.63: (0,8)–(32,56); IoU with the cat 1/3 > 0.3, so the cat suppresses it across classes
      { gy: 1, gx: 0, v: [0, -30, 0, Math.log(3), 0.7, 0, 0.9] },
    ];
    const agnostic = { ...post, classAgnosticNms: true };
    const o = { ...opts, iouThreshold: 0.3 };
    expect(detectOutput(head(cells), agnostic, input, plan, original, labels, o).map((d) => d.label)).toEqual(
      ['cat'],
    );
    const dogs = detectOutput(head(cells), agnostic, input, plan, original, labels, {
      ...o,
      classes: new Set([1]),
    });
    expect(dogs.map((d) => [d.label, d.score])).toEqual([['dog', 0.63]]);
  });

  it('filters classes before maxDetections: better boxes of other classes never crowd out a wanted one', () => {
    const original = { width: 64, height: 64 };
    const plan = planResize(original, { mode: 'stretch' }, input);
    const cells = [
      { gy: 0, gx: 0, v: [0, 0, 0, 0, 0.9, 0.9, 0] }, // cat 0.81
      { gy: 0, gx: 1, v: [0, 0, 0, 0, 0.9, 0.8, 0] }, // cat 0.72, no overlap with the first
      { gy: 1, gx: 1, v: [0, 0, 0, 0, 0.8, 0, 0.5] }, // dog 0.4
    ];
    const o = { ...opts, maxDetections: 1 };
    expect(detectOutput(head(cells), post, input, plan, original, labels, o).map((d) => d.label)).toEqual([
      'cat',
    ]);
    const out = detectOutput(head(cells), post, input, plan, original, labels, {
      ...o,
      classes: new Set([1]),
    });
    expect(out.map((d) => [d.label, d.score])).toEqual([['dog', 0.4]]);
    expect(
      detectOutput(head(cells), post, input, plan, original, labels, { ...opts, classes: new Set([0]) }).map(
        (d) => d.label,
      ),
    ).toEqual(['cat', 'cat']);
  });
});

describe('classifyOutput minConfidence', () => {
  const cls = { family: 'classification' as const, outputIsProbability: true, topK: 3 };
  const output = { data: new Float32Array([0.1, 0.6, 0.3]), dims: [1, 3] };
  const names = { names: ['a', 'b', 'c'], synsets: null };

  it('drops predictions below the threshold after top-k, keeping the order', () => {
    expect(classifyOutput(output, cls, names, 3).map((p) => p.label)).toEqual(['b', 'c', 'a']);
    expect(classifyOutput(output, cls, names, 3, 0.3).map((p) => p.label)).toEqual(['b', 'c']);
    expect(classifyOutput(output, cls, names, 1, 0.3).map((p) => p.label)).toEqual(['b']);
  });

  it('answers no prediction when none reaches it', () => {
    expect(classifyOutput(output, cls, names, 3, 0.99)).toEqual([]);
  });
});

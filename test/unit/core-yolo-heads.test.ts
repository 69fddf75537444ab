import type { YoloHeadsPostprocess } from '../../lambda/src/core/manifest';
import { decodeYoloHeads } from '../../lambda/src/core/yolo-heads';

const f = Math.fround; // the tensors hold float32, so the hand computation uses float32 inputs too
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function expectNear(actual: number, expected: number, what: string, tol = 1e-9) {
  if (!(Math.abs(actual - expected) <= tol)) throw new Error(`${what}: expected ${expected}, got ${actual}`);
}

const post = (over: Partial<YoloHeadsPostprocess>): YoloHeadsPostprocess => ({
  family: 'yolo-heads',
  headLayout: 'grid-anchor-attrs',
  scoresActivated: true,
  multiLabel: false,
  heads: [],
  scoreThreshold: 0.25,
  iouThreshold: 0.45,
  classAgnosticNms: false,
  maxDetections: 100,
  ...over,
});

describe("decodeYoloHeads, 'grid-anchor-attrs' [1,G,G,A,5+C] (zoo YOLOv4: scores already sigmoid)", () => {
  // G = 2, A = 2, C = 3 → attrs 8. Hot cell: row gy = 1, column gx = 0, anchor a = 1.
  // Flat offset ((gy*G + gx)*A + a)*attrs = ((1*2 + 0)*2 + 1)*8 = 40, written by hand.
  const dims = [1, 2, 2, 2, 8];
  const HOT = 40;
  const [tx, ty, tw, th, obj, c0, c1, c2] = [0.3, -0.2, 0.4, -0.1, 0.9, 0.1, 0.8, 0.3];
  const data = new Float32Array(2 * 2 * 2 * 8);
  data.set([tx, ty, tw, th, obj, c0, c1, c2], HOT);
  const spec = post({
    heads: [
      {
        output: 'head',
        stride: 16,
        anchors: [
          [10, 14],
          [23, 27],
        ],
        scaleXY: 1.2,
      },
    ],
  });

  it('decodes the hot cell with XYSCALE 1.2: centre (sigmoid(t)*1.2 - 0.1 + cell)*stride, size exp(t)*anchor', () => {
    const out = decodeYoloHeads({ head: { data, dims } }, spec, 0.25);
    expect(out).toHaveLength(1);
    const [c] = out;
    const cx = (sigmoid(f(tx)) * 1.2 - 0.5 * (1.2 - 1) + 0) * 16;
    const cy = (sigmoid(f(ty)) * 1.2 - 0.5 * (1.2 - 1) + 1) * 16;
    const w = Math.exp(f(tw)) * 23; // anchor 1 of the head, in input pixels (not times stride)
    const h = Math.exp(f(th)) * 27;
    expectNear(c!.box.x1, cx - w / 2, 'x1');
    expectNear(c!.box.y1, cy - h / 2, 'y1');
    expectNear(c!.box.x2, cx + w / 2, 'x2');
    expectNear(c!.box.y2, cy + h / 2, 'y2');
    expect(c!.classId).toBe(1); // arg-max of [0.1, 0.8, 0.3]
    expectNear(c!.score, f(obj) * f(c1), 'score (objectness × class, no extra sigmoid)');
  });

  it('the XYSCALE offset lets the centre reach 0.1 cell beyond either edge of its cell', () => {
    const extreme = new Float32Array(data);
    extreme[HOT] = -30; // sigmoid ≈ 0 → x = (0*1.2 - 0.1 + 0)*16 = -1.6
    extreme[HOT + 1] = 30; // sigmoid ≈ 1 → y = (1.2 - 0.1 + 1)*16 = 33.6
    extreme[HOT + 2] = 0;
    extreme[HOT + 3] = 0; // w, h = anchor (23, 27)
    const [c] = decodeYoloHeads({ head: { data: extreme, dims } }, spec, 0.25);
    expectNear((c!.box.x1 + c!.box.x2) / 2, -1.6, 'cx', 1e-6);
    expectNear((c!.box.y1 + c!.box.y2) / 2, 33.6, 'cy', 1e-6);
    expectNear(c!.box.x2 - c!.box.x1, 23, 'w');
    expectNear(c!.box.y2 - c!.box.y1, 27, 'h');
  });

  it('with scaleXY 1 the same logits give the plain YOLOv3 centre (sigmoid(t) + cell)*stride', () => {
    const plain = post({
      heads: [
        {
          output: 'head',
          stride: 16,
          anchors: [
            [10, 14],
            [23, 27],
          ],
          scaleXY: 1,
        },
      ],
    });
    const [c] = decodeYoloHeads({ head: { data, dims } }, plain, 0.25);
    expectNear((c!.box.x1 + c!.box.x2) / 2, sigmoid(f(tx)) * 16, 'cx');
    expectNear((c!.box.y1 + c!.box.y2) / 2, (sigmoid(f(ty)) + 1) * 16, 'cy');
  });

  it('drops a cell whose objectness is below the threshold', () => {
    expect(decodeYoloHeads({ head: { data, dims } }, spec, 0.95)).toEqual([]);
  });

  it('drops a cell whose objectness passes but objectness × class does not (0.9 × 0.8 < 0.75)', () => {
    expect(decodeYoloHeads({ head: { data, dims } }, spec, 0.75)).toEqual([]);
  });

  it('keeps a score exactly equal to the threshold (0.5 × 0.5 = 0.25)', () => {
    const half = new Float32Array(data);
    half.set([0.5, 0.5, 0, 0], HOT + 4); // objectness 0.5, class 0 = 0.5
    const out = decodeYoloHeads({ head: { data: half, dims } }, spec, 0.25);
    expect(out.map((c) => [c.classId, c.score])).toEqual([[0, 0.25]]);
  });

  it('all-zero heads (objectness 0) give no candidates', () => {
    expect(decodeYoloHeads({ head: { data: new Float32Array(data.length), dims } }, spec, 0.01)).toEqual([]);
  });

  it('decodes every head listed, each with its own stride and anchors', () => {
    const spec2 = post({
      heads: [
        {
          output: 'a',
          stride: 16,
          anchors: [
            [10, 14],
            [23, 27],
          ],
          scaleXY: 1.2,
        },
        {
          output: 'b',
          stride: 32,
          anchors: [
            [50, 60],
            [70, 80],
          ],
          scaleXY: 1,
        },
      ],
    });
    const [fromA, fromB] = decodeYoloHeads({ a: { data, dims }, b: { data, dims } }, spec2, 0.25);
    expectNear(fromB!.box.x2 - fromB!.box.x1, Math.exp(f(tw)) * 70, 'head b uses its own anchor');
    expectNear((fromB!.box.y1 + fromB!.box.y2) / 2, (sigmoid(f(ty)) + 1) * 32, 'head b uses its own stride');
    expect(fromA!.box).not.toEqual(fromB!.box);
  });

  it('names the output when it is missing or has the wrong shape', () => {
    expect(() => decodeYoloHeads({}, spec, 0.25)).toThrow("missing model output 'head'");
    expect(() => decodeYoloHeads({ head: { data, dims: [1, 2, 2, 16] } }, spec, 0.25)).toThrow(
      /head: expected \[1,G,G,2,5\+C\]/,
    );
  });
});

describe("decodeYoloHeads, 'darknet' [1,A*(5+C),G,G] (raw conv logits, multi-label)", () => {
  // A = 2, C = 2 → attrs 7, 14 channels, G = 3. Hot cell gy = 2, gx = 1, anchor a = 1.
  // Attribute k sits in channel a*7 + k, so its offset is ((7 + k)*3 + 2)*3 + 1 = 63 + 9k + 7.
  const dims = [1, 14, 3, 3];
  const offset = (k: number) => 70 + 9 * k;
  const logits = { tx: 0.5, ty: -0.5, tw: 0.2, th: 0.1, obj: 2, c0: 1.5, c1: 0.5 };
  const data = new Float32Array(14 * 9).fill(-10); // background: sigmoid(-10) ≈ 0.00005
  [logits.tx, logits.ty, logits.tw, logits.th, logits.obj, logits.c0, logits.c1].forEach(
    (v, k) => (data[offset(k)] = v),
  );
  const spec = post({
    headLayout: 'darknet',
    scoresActivated: false,
    multiLabel: true,
    heads: [
      {
        output: 'yolo',
        stride: 32,
        anchors: [
          [5, 6],
          [30, 40],
        ],
        scaleXY: 1,
      },
    ],
  });
  const box = () => {
    const cx = (sigmoid(f(logits.tx)) + 1) * 32;
    const cy = (sigmoid(f(logits.ty)) + 2) * 32;
    const w = Math.exp(f(logits.tw)) * 30;
    const h = Math.exp(f(logits.th)) * 40;
    return { x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 };
  };
  const score = (c: number) => sigmoid(f(logits.obj)) * sigmoid(f(c));

  it('multi-label: emits one candidate per class above threshold, sigmoid applied to objectness and classes', () => {
    const out = decodeYoloHeads({ yolo: { data, dims } }, spec, 0.5);
    expect(out.map((c) => c.classId)).toEqual([0, 1]);
    for (const c of out) {
      const want = box();
      for (const k of ['x1', 'y1', 'x2', 'y2'] as const)
        expectNear(c.box[k], want[k], `class ${c.classId} ${k}`);
    }
    expectNear(out[0]!.score, score(logits.c0), 'score class 0 ≈ 0.720');
    expectNear(out[1]!.score, score(logits.c1), 'score class 1 ≈ 0.548');
  });

  it('multi-label threshold applies per class (0.6 keeps class 0 only)', () => {
    expect(decodeYoloHeads({ yolo: { data, dims } }, spec, 0.6).map((c) => c.classId)).toEqual([0]);
  });

  it('objectness is compared after its sigmoid (logit 2 → 0.88 passes 0.85, fails 0.9)', () => {
    const noClassCut = new Float32Array(data);
    noClassCut[offset(5)] = 30; // class 0 sigmoid ≈ 1
    expect(decodeYoloHeads({ yolo: { data: noClassCut, dims } }, spec, 0.85)).toHaveLength(1);
    expect(decodeYoloHeads({ yolo: { data: noClassCut, dims } }, spec, 0.9)).toHaveLength(0);
  });

  it('single-label on raw logits: one candidate with the arg-max class, scored after sigmoid', () => {
    const out = decodeYoloHeads({ yolo: { data, dims } }, { ...spec, multiLabel: false }, 0.25);
    expect(out).toHaveLength(1);
    expect(out[0]!.classId).toBe(0);
    expectNear(out[0]!.score, score(logits.c0), 'score');
  });

  it('rejects a channel count that is not a multiple of the anchor count', () => {
    expect(() => decodeYoloHeads({ yolo: { data, dims: [1, 13, 3, 3] } }, spec, 0.5)).toThrow(
      /yolo: expected \[1,2\*\(5\+C\),G,G\]/,
    );
  });
});

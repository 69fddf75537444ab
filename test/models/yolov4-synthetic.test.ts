/**
 * The whole YOLOv4 detection path (sharp decode + letterbox, packTensor, a real onnxruntime session,
 * head decode, un-letterbox, clip, per-class NMS, labels) checked against boxes computed by hand.
 *
 * The model is synthetic: it has the zoo YOLOv4's exact I/O names and shapes, but its outputs are
 * constants we choose, empty (objectness 0) except for a few hot cells. Each expected box follows
 * model-zoo-facts §5 written out independently here:
 *   pred_xy = ((sigmoid(t_xy) * XYSCALE[i]) - 0.5 * (XYSCALE[i] - 1) + grid_xy) * STRIDES[i]
 *   pred_wh = exp(t_wh) * ANCHORS[i]
 * then (xy - pad) / ratio, clipped to the image.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { loadConfig } from '../../lambda/src/adapters/config';
import { iou } from '../../lambda/src/core/nms';
import type { Detection, DetectionResult } from '../../lambda/src/core/results';
import { createService } from '../../lambda/src/service/create-service';
import type { RecognitionService } from '../../lambda/src/service/recognition-service';
import builtIn from '../../models/manifest.json';
import { writeConstantOutputModel } from '../support/onnx-builder';

jest.setTimeout(60_000);

// Zoo constants (model-zoo-facts §5), deliberately not read from the manifest.
const STRIDES = [8, 16, 32] as const;
const XYSCALE = [1.2, 1.1, 1.05] as const;
const ANCHORS = [
  [
    [12, 16],
    [19, 36],
    [40, 28],
  ],
  [
    [36, 75],
    [76, 55],
    [72, 146],
  ],
  [
    [142, 110],
    [192, 243],
    [459, 401],
  ],
] as const;
const GRIDS = [52, 26, 13] as const;
const OUTPUTS = ['Identity:0', 'Identity_1:0', 'Identity_2:0'] as const;
const ATTRS = 85;
const BATCH = 'unk__2104';

const COCO = readFileSync(path.resolve(__dirname, '../../models/coco80_cocoapi.txt'), 'utf8')
  .split(/\r?\n/)
  .filter(Boolean);
const PERSON = 0;
const CAR = 2;
const BUS = 5;
const CAT = 15;
const DOG = 16;

interface HotCell {
  head: 0 | 1 | 2;
  gy: number;
  gx: number;
  anchor: 0 | 1 | 2;
  /** Raw tx, ty, tw, th (the graph leaves them un-activated). */
  t: [number, number, number, number];
  /** Objectness and class probability (the graph has already applied sigmoid). */
  obj: number;
  classId: number;
  cls: number;
}

function writeModel(file: string, cells: readonly HotCell[]) {
  const heads = GRIDS.map((g) => new Float32Array(g * g * 3 * ATTRS));
  for (const c of cells) {
    const g = GRIDS[c.head];
    const v = new Float32Array(ATTRS);
    v.set([...c.t, c.obj]);
    v[5 + c.classId] = c.cls;
    heads[c.head]!.set(v, ((c.gy * g + c.gx) * 3 + c.anchor) * ATTRS);
  }
  writeConstantOutputModel(file, {
    input: { name: 'input_1:0', dims: [BATCH, 416, 416, 3] },
    outputs: OUTPUTS.map((name, i) => ({
      name,
      dims: [BATCH, GRIDS[i]!, GRIDS[i]!, 3, ATTRS],
      data: heads[i]!,
    })),
  });
}

interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** The hot cell's box in 416×416 input pixels, from float32 values as the session returns them. */
function inputBox(c: HotCell): Box {
  const [tx, ty, tw, th] = c.t.map(Math.fround) as [number, number, number, number];
  const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
  const [stride, xyScale] = [STRIDES[c.head], XYSCALE[c.head]];
  const [aw, ah] = ANCHORS[c.head][c.anchor];
  const cx = (sigmoid(tx) * xyScale - 0.5 * (xyScale - 1) + c.gx) * stride;
  const cy = (sigmoid(ty) * xyScale - 0.5 * (xyScale - 1) + c.gy) * stride;
  const w = Math.exp(tw) * aw;
  const h = Math.exp(th) * ah;
  return { x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 };
}

/** Letterbox numbers for the test images, worked out by hand (416 / longer side, centred). */
interface Letterbox {
  width: number;
  height: number;
  ratio: number;
  dx: number;
  dy: number;
}
// 832×624: ratio 0.5 → 416×312, pad (416 - 312) / 2 = 52 above and below.
const LANDSCAPE: Letterbox = { width: 832, height: 624, ratio: 0.5, dx: 0, dy: 52 };
// 500×1000: ratio 0.416 → 208×416, pad (416 - 208) / 2 = 104 left and right.
const PORTRAIT: Letterbox = { width: 500, height: 1000, ratio: 0.416, dx: 104, dy: 0 };

function expected(c: HotCell, lb: Letterbox) {
  const b = inputBox(c);
  const clip = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  return {
    label: COCO[c.classId]!,
    classId: c.classId,
    score: Math.fround(c.obj) * Math.fround(c.cls),
    box: {
      x1: clip((b.x1 - lb.dx) / lb.ratio, lb.width),
      y1: clip((b.y1 - lb.dy) / lb.ratio, lb.height),
      x2: clip((b.x2 - lb.dx) / lb.ratio, lb.width),
      y2: clip((b.y2 - lb.dy) / lb.ratio, lb.height),
    },
  };
}

/** Box within 0.15 px, score within rounding (4 digits), same label and class. */
function expectDetection(actual: Detection | undefined, want: ReturnType<typeof expected>, lb: Letterbox) {
  if (!actual) throw new Error(`no detection labelled '${want.label}'`);
  const problems: string[] = [];
  if (actual.label !== want.label) problems.push(`label ${actual.label} ≠ ${want.label}`);
  if (actual.classId !== want.classId) problems.push(`classId ${actual.classId} ≠ ${want.classId}`);
  if (Math.abs(actual.score - want.score) > 5.1e-5) problems.push(`score ${actual.score} ≠ ${want.score}`);
  for (const k of ['x1', 'y1', 'x2', 'y2'] as const) {
    if (!(Math.abs(actual.box[k] - want.box[k]) <= 0.15))
      problems.push(`box.${k} ${actual.box[k]} ≠ ${want.box[k]}`);
    const norm = want.box[k] / (k[0] === 'x' ? lb.width : lb.height);
    if (!(Math.abs(actual.boxNormalized[k] - norm) <= 1e-4)) {
      problems.push(`boxNormalized.${k} ${actual.boxNormalized[k]} ≠ ${norm}`);
    }
  }
  if (problems.length > 0) {
    throw new Error(
      `${want.label}: ${problems.join('; ')}\n  got ${JSON.stringify(actual)}\n  want ${JSON.stringify(want)}`,
    );
  }
}

// One hot cell per head, each with a different anchor and class.
const PERSON_CELL: HotCell = {
  head: 0,
  gy: 20,
  gx: 30,
  anchor: 1,
  t: [0.4, -0.3, 0.5, 0.2],
  obj: 0.9,
  classId: PERSON,
  cls: 0.8,
};
// Reaches left of the portrait image's content (x1 inside the left padding → clipped to 0).
const DOG_CELL: HotCell = {
  head: 1,
  gy: 10,
  gx: 6,
  anchor: 2,
  t: [-1, 0.7, 0.1, -0.2],
  obj: 0.95,
  classId: DOG,
  cls: 0.7,
};
// Reaches above the top and past the right edge (clipped on both images).
const CAR_CELL: HotCell = {
  head: 2,
  gy: 1,
  gx: 11,
  anchor: 0,
  t: [0.2, -0.5, 0.3, 0.1],
  obj: 0.85,
  classId: CAR,
  cls: 0.9,
};
const BELOW_THRESHOLD: HotCell[] = [
  // objectness passes 0.25, objectness × class = 0.15 does not
  { head: 1, gy: 3, gx: 3, anchor: 0, t: [0, 0, 0, 0], obj: 0.3, classId: BUS, cls: 0.5 },
  // a sure class but objectness under 0.25
  { head: 0, gy: 40, gx: 10, anchor: 0, t: [0, 0, 0, 0], obj: 0.2, classId: BUS, cls: 1 },
];

// NMS model: around cell (25, 25) of the stride-8 head.
const CAT_BEST: HotCell = {
  head: 0,
  gy: 25,
  gx: 25,
  anchor: 2,
  t: [0, 0, 0.5, 0.5],
  obj: 0.9,
  classId: CAT,
  cls: 0.9,
};
// One cell to the right: the same box shifted 8 px, IoU ≈ 0.78 with CAT_BEST.
const CAT_SHIFTED: HotCell = {
  head: 0,
  gy: 25,
  gx: 26,
  anchor: 2,
  t: [0, 0, 0.5, 0.5],
  obj: 0.8,
  classId: CAT,
  cls: 0.8,
};
// Same centre as CAT_BEST, similar size, another class.
const DOG_OVER_CAT: HotCell = {
  head: 0,
  gy: 25,
  gx: 25,
  anchor: 1,
  t: [0, 0, 1.2, 0.3],
  obj: 0.85,
  classId: DOG,
  cls: 0.8,
};
// Same class as CAT_BEST but far away.
const CAT_FAR: HotCell = {
  head: 0,
  gy: 30,
  gx: 5,
  anchor: 0,
  t: [0, 0, 0, 0],
  obj: 0.7,
  classId: CAT,
  cls: 0.9,
};

const byLabel = (r: DetectionResult, label: string) => r.detections.find((d) => d.label === label);

describe('YOLOv4 through the real service with a synthetic zoo-shaped model', () => {
  let dir: string;
  let service: RecognitionService | undefined;
  let landscapeJpeg: Buffer;
  let portraitPng: Buffer;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'yolov4-synthetic-'));
    writeModel(path.join(dir, 'synthetic-yolov4.onnx'), [
      PERSON_CELL,
      DOG_CELL,
      CAR_CELL,
      ...BELOW_THRESHOLD,
    ]);
    writeModel(path.join(dir, 'synthetic-yolov4-nms.onnx'), [CAT_BEST, CAT_SHIFTED, DOG_OVER_CAT, CAT_FAR]);
    const zooYolo = builtIn.models.find((m) => m.id === 'yolov4');
    if (!zooYolo) throw new Error('models/manifest.json has no yolov4 entry');
    const manifest = path.join(dir, 'manifest.json');
    writeFileSync(
      manifest,
      JSON.stringify({
        models: [
          { id: 'yolov4', file: 'synthetic-yolov4.onnx', sha256: null },
          {
            ...zooYolo,
            id: 'yolov4-nms',
            file: 'synthetic-yolov4-nms.onnx',
            sha256: null,
            bytes: null,
            urls: [],
          },
        ],
      }),
    );
    service = createService(
      loadConfig({
        ...process.env,
        MODEL_PATH: dir,
        MODEL_MANIFEST: manifest,
        MODEL_CACHE_DIR: path.join(dir, 'cache'),
        MODEL_S3_URI: '',
        PRELOAD_MODELS: '',
        ORT_INTRA_OP_THREADS: '1',
      }),
    );
    const grey = { r: 90, g: 120, b: 150 };
    landscapeJpeg = await sharp({ create: { width: 832, height: 624, channels: 3, background: grey } })
      .jpeg()
      .toBuffer();
    portraitPng = await sharp({ create: { width: 500, height: 1000, channels: 3, background: grey } })
      .png()
      .toBuffer();
  });

  afterAll(async () => {
    await service?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the synthetic file passes the runtime I/O check (names, NHWC 416, symbolic batch)', async () => {
    expect(await service!.preload(['yolov4', 'yolov4-nms'])).toEqual([
      { id: 'yolov4', ok: true },
      { id: 'yolov4-nms', ok: true },
    ]);
  });

  it('landscape 832×624 JPEG (pads top/bottom): each hot cell maps to its hand-computed box, label and score', async () => {
    const r = await service!.detect(new Uint8Array(landscapeJpeg), { model: 'yolov4', minConfidence: 0.25 });
    expect(r).toMatchObject({
      task: 'detection',
      model: 'yolov4',
      image: { width: 832, height: 624, format: 'jpeg' },
    });
    expect(r.detections.map((d) => d.label)).toEqual(['car', 'person', 'dog']); // 0.765, 0.72, 0.665
    expect(r.label).toBe('car');
    for (const cell of [PERSON_CELL, DOG_CELL, CAR_CELL]) {
      expectDetection(byLabel(r, COCO[cell.classId]!), expected(cell, LANDSCAPE), LANDSCAPE);
    }
    // The car box starts in the top padding and ends past the right edge: clipped to the image.
    expect(byLabel(r, 'car')!.box.y1).toBe(0);
    expect(byLabel(r, 'car')!.box.x2).toBe(832);
  });

  it('portrait 500×1000 PNG (pads left/right): the same cells map through the other letterbox', async () => {
    const r = await service!.detect(new Uint8Array(portraitPng), { model: 'yolov4', minConfidence: 0.25 });
    expect(r.image).toEqual({ width: 500, height: 1000, format: 'png' });
    expect(r.detections.map((d) => d.label)).toEqual(['car', 'person', 'dog']);
    for (const cell of [PERSON_CELL, DOG_CELL, CAR_CELL]) {
      expectDetection(byLabel(r, COCO[cell.classId]!), expected(cell, PORTRAIT), PORTRAIT);
    }
    expect(byLabel(r, 'dog')!.box.x1).toBe(0); // starts in the left padding
    expect(byLabel(r, 'car')!.box.x2).toBe(500); // ends in the right padding
  });

  it('minConfidence filters on objectness × class (0.7 keeps car 0.765 and person 0.72, drops dog 0.665)', async () => {
    const r = await service!.detect(new Uint8Array(landscapeJpeg), { model: 'yolov4', minConfidence: 0.7 });
    expect(r.detections.map((d) => d.label)).toEqual(['car', 'person']);
  });

  it('maxDetections keeps the best ones', async () => {
    const r = await service!.detect(new Uint8Array(landscapeJpeg), { model: 'yolov4', maxDetections: 1 });
    expect(r.detections.map((d) => d.label)).toEqual(['car']);
  });

  it('per-class NMS: an overlapping same-class cell collapses into the best one; another class on top stays', async () => {
    // The test is only meaningful if the boxes really overlap past the manifest's 0.213.
    const catBest = expected(CAT_BEST, LANDSCAPE).box;
    expect(iou(catBest, expected(CAT_SHIFTED, LANDSCAPE).box)).toBeGreaterThan(0.7);
    expect(iou(catBest, expected(DOG_OVER_CAT, LANDSCAPE).box)).toBeGreaterThan(0.5);

    const r = await service!.detect(new Uint8Array(landscapeJpeg), {
      model: 'yolov4-nms',
      minConfidence: 0.25,
    });
    expect(r.detections.map((d) => [d.label, d.score])).toEqual([
      ['cat', 0.81],
      ['dog', 0.68],
      ['cat', 0.63],
    ]);
    expectDetection(r.detections[0], expected(CAT_BEST, LANDSCAPE), LANDSCAPE);
    expectDetection(r.detections[1], expected(DOG_OVER_CAT, LANDSCAPE), LANDSCAPE);
    expectDetection(r.detections[2], expected(CAT_FAR, LANDSCAPE), LANDSCAPE);
  });

  it('raising the IoU threshold above their overlap keeps both cats', async () => {
    const r = await service!.detect(new Uint8Array(landscapeJpeg), { model: 'yolov4-nms', iou: 0.9 });
    expect(r.detections.map((d) => d.label)).toEqual(['cat', 'dog', 'cat', 'cat']);
    expectDetection(r.detections[2], expected(CAT_SHIFTED, LANDSCAPE), LANDSCAPE);
  });
});

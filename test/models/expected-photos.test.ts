/**
 * Every robust assertion of ../shared/images/EXPECTED.md, through the public pipeline API
 * (RecognitionService) with the real small models.
 */
import { loadConfig } from '../../lambda/src/adapters/config';
import type { Box } from '../../lambda/src/core/geometry';
import { iou } from '../../lambda/src/core/nms';
import type { Detection } from '../../lambda/src/core/results';
import { createService } from '../../lambda/src/service/create-service';
import type { RecognitionService } from '../../lambda/src/service/recognition-service';
import { photo, smallModelEnv } from '../support/fixtures';

const DOGS = [248, 249, 250];
interface ClassExpect {
  top1In?: number[];
  minTop1?: number;
  top5AtLeast?: [number[], number];
  catMass?: number;
  size?: [number, number];
}
const CLASSIFY: Record<string, ClassExpect> = {
  'dog.jpg': { top1In: DOGS, minTop1: 0.4, top5AtLeast: [DOGS, 2] },
  'dog_exif_orientation6.jpg': { top1In: DOGS, minTop1: 0.4, top5AtLeast: [DOGS, 2], size: [768, 576] },
  'eagle.jpg': { top1In: [22], minTop1: 0.5 },
  'cat_chelsea.png': { top1In: [281, 282, 285], minTop1: 0.4, catMass: 0.8 },
  'coffee_cup.webp': { top1In: [967], minTop1: 0.9 },
  'kite.jpg': { top5AtLeast: [[978], 1] },
  'person.jpg': { top5AtLeast: [Array.from({ length: 118 }, (_, i) => 151 + i), 2] },
};

type BoxRule = [labels: string[], minScore: number, ref: [number, number, number, number], minIoU: number];
type Rule = BoxRule | { exact: [number, number] } | { count: [string[], number, number] };
// EXPECTED.md uses Darknet spellings; the models here answer with the official COCO names. The
// labels asserted below are spelled the same in both lists.
const YOLOX: Record<string, Rule[]> = {
  'dog.jpg': [
    [['dog'], 0.6, [133, 207, 325, 543], 0.75],
    [['bicycle'], 0.6, [51, 135, 572, 427], 0.75],
    [['car', 'truck'], 0.6, [466, 78, 692, 171], 0.75],
    { exact: [0.5, 3] },
  ],
  'kite.jpg': [
    [['kite'], 0.6, [590, 76, 674, 155], 0.7],
    [['person'], 0.6, [111, 606, 168, 762], 0.7],
    [['person'], 0.6, [210, 684, 276, 866], 0.7],
    { count: [['person'], 0.3, 3] },
    { count: [['kite'], 0.3, 2] },
  ],
  'person.jpg': [
    [['person'], 0.7, [188, 97, 276, 371], 0.75],
    [['dog'], 0.7, [62, 263, 200, 348], 0.75],
    [['horse'], 0.7, [404, 138, 602, 343], 0.75],
    { exact: [0.5, 3] },
  ],
  'eagle.jpg': [[['bird'], 0.8, [134, 84, 600, 449], 0.75], { exact: [0.3, 1] }],
  'cat_chelsea.png': [[['cat'], 0.45, [0, 0, 450, 300], 0.8], { exact: [0.3, 1] }],
  'coffee_cup.webp': [[['cup'], 0.7, [161, 16, 421, 297], 0.75]],
  'astronaut.jpg': [[['person'], 0.8, [11, 20, 369, 508], 0.75], { exact: [0.5, 1] }],
};
YOLOX['dog_exif_orientation6.jpg'] = YOLOX['dog.jpg']!;

const FASTEST: Record<string, Rule[]> = {
  'dog.jpg': [
    [['car', 'truck'], 0.7, [454, 77, 685, 181], 0.75],
    [['dog'], 0.45, [124, 226, 363, 515], 0.7],
    [['bicycle'], 0.3, [248, 188, 586, 422], 0.6],
  ],
  'kite.jpg': [
    [['kite'], 0.8, [596, 85, 679, 149], 0.7],
    { count: [['kite'], 0.25, 3] },
    { count: [['person'], 0.25, 3] },
  ],
  'person.jpg': [
    [['person'], 0.8, [182, 87, 271, 382], 0.75],
    [['dog'], 0.6, [73, 260, 213, 354], 0.7],
    [['horse', 'sheep', 'cow'], 0.5, [421, 141, 582, 320], 0.7],
  ],
  'eagle.jpg': [[['bird'], 0.7, [222, 88, 587, 444], 0.75]],
  'cat_chelsea.png': [[['cat'], 0.4, [0, 16, 418, 300], 0.7]],
  'coffee_cup.webp': [[['cup'], 0.6, [166, 20, 410, 265], 0.75]],
  'astronaut.jpg': [[['person'], 0.7, [17, 67, 366, 503], 0.75]],
};
FASTEST['dog_exif_orientation6.jpg'] = FASTEST['dog.jpg']!;

const asBox = ([x1, y1, x2, y2]: number[]): Box => ({ x1: x1!, y1: y1!, x2: x2!, y2: y2! });
const describeDets = (dets: Detection[]) =>
  dets
    .map(
      (d) => `${d.label} ${d.score} [${[d.box.x1, d.box.y1, d.box.x2, d.box.y2].map(Math.round).join(',')}]`,
    )
    .join('; ');

/** Checks one EXPECTED.md rule; returns a readable failure or null. */
function check(rule: Rule, dets: Detection[]): string | null {
  if ('exact' in rule) {
    const [min, n] = rule.exact;
    const c = dets.filter((d) => d.score >= min).length;
    return c === n ? null : `${c} detections >= ${min}, want exactly ${n}`;
  }
  if ('count' in rule) {
    const [labels, min, n] = rule.count;
    const c = dets.filter((d) => labels.includes(d.label) && d.score >= min).length;
    return c >= n ? null : `${c} × ${labels.join('/')} >= ${min}, want >= ${n}`;
  }
  const [labels, min, ref, minIoU] = rule;
  const best = Math.max(
    0,
    ...dets.filter((d) => labels.includes(d.label) && d.score >= min).map((d) => iou(d.box, asBox(ref))),
  );
  return best >= minIoU
    ? null
    : `${labels.join('/')} >= ${min}: best IoU ${best.toFixed(3)} with [${ref.join(',')}] < ${minIoU}`;
}

let service: RecognitionService;
beforeAll(() => {
  service = createService(loadConfig(smallModelEnv()));
});
afterAll(() => service.close());

describe('mobilenetv2-12-int8 meets EXPECTED.md on every photo', () => {
  it.each(Object.entries(CLASSIFY))('%s', async (name, e) => {
    const r = await service.classify(photo(name), { model: 'mobilenetv2-12-int8', topK: 5 });
    const ids = r.predictions.map((p) => p.classId);
    const top = r.predictions[0]!;
    const summary = r.predictions.map((p) => `${p.classId} ${p.label} ${p.probability}`).join(' | ');
    if (e.top1In)
      expect({ top1InExpected: e.top1In.includes(top.classId), summary }).toEqual({
        top1InExpected: true,
        summary,
      });
    if (e.minTop1) expect(top.probability).toBeGreaterThanOrEqual(e.minTop1);
    if (e.top5AtLeast)
      expect(ids.filter((i) => e.top5AtLeast![0].includes(i)).length).toBeGreaterThanOrEqual(
        e.top5AtLeast[1],
      );
    if (e.catMass) {
      const mass = r.predictions
        .filter((p) => p.classId >= 281 && p.classId <= 285)
        .reduce((s, p) => s + p.probability, 0);
      expect(mass).toBeGreaterThanOrEqual(e.catMass);
    }
    if (e.size) expect([r.image.width, r.image.height]).toEqual(e.size);
    expect(r.label).toBe(top.label);
    expect(top.synset).toMatch(/^n\d{8} /);
  });

  it('returns up to 100 ranked probabilities whose sum stays within 1', async () => {
    const r = await service.classify(photo('astronaut.jpg'), { model: 'mobilenetv2-12-int8', topK: 100 });
    expect(r.predictions).toHaveLength(100);
    const sum = r.predictions.reduce((s, p) => s + p.probability, 0);
    expect(sum).toBeLessThanOrEqual(1.0001);
    expect(sum).toBeGreaterThan(0.9);
  });
});

describe.each([
  ['yolox-nano', YOLOX, 0.1],
  ['yolo-fastest-1.1-xl', FASTEST, 0.25],
] as const)('%s meets EXPECTED.md on every photo', (model, table, threshold) => {
  it.each(Object.entries(table))('%s', async (name, rules) => {
    const r = await service.detect(photo(name), { model, minConfidence: threshold });
    const failures = rules.map((rule) => check(rule, r.detections)).filter(Boolean);
    expect({ failures, detections: describeDets(r.detections) }).toEqual({
      failures: [],
      detections: describeDets(r.detections),
    });
    for (const d of r.detections) {
      expect(d.box.x1).toBeGreaterThanOrEqual(0);
      expect(d.box.x2).toBeLessThanOrEqual(r.image.width);
      expect(d.box.y2).toBeLessThanOrEqual(r.image.height);
      expect(d.boxNormalized.x2).toBeLessThanOrEqual(1);
    }
  });
});

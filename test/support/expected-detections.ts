/**
 * The detection assertions of test/fixtures/images/EXPECTED.md as data, and the check that reads them:
 * shared by test/models/expected-photos.test.ts and test/slow/quantize.test.ts.
 */
import type { Box } from '../../lambda/src/core/geometry';
import { iou } from '../../lambda/src/core/nms';
import type { Detection } from '../../lambda/src/core/results';

export type BoxRule = [
  labels: string[],
  minScore: number,
  ref: [number, number, number, number],
  minIoU: number,
];
export type Rule = BoxRule | { exact: [number, number] } | { count: [string[], number, number] };
// EXPECTED.md uses Darknet spellings; the models here answer with the official COCO names. The
// labels asserted below are spelled the same in both lists.
export const YOLOX: Record<string, Rule[]> = {
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

export const FASTEST: Record<string, Rule[]> = {
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
export const describeDets = (dets: Detection[]) =>
  dets
    .map(
      (d) => `${d.label} ${d.score} [${[d.box.x1, d.box.y1, d.box.x2, d.box.y2].map(Math.round).join(',')}]`,
    )
    .join('; ');

/** Checks one EXPECTED.md rule; returns a readable failure or null. */
export function check(rule: Rule, dets: Detection[]): string | null {
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

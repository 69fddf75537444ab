/**
 * Every robust assertion of test/fixtures/images/EXPECTED.md, through the public pipeline API
 * (RecognitionService) with the real small models.
 */
import { loadConfig } from '../../lambda/src/adapters/config';
import { createService } from '../../lambda/src/service/create-service';
import type { RecognitionService } from '../../lambda/src/service/recognition-service';
import { check, describeDets, FASTEST, YOLOX } from '../support/expected-detections';
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

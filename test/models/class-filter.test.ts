/**
 * `classes` on /detector and `minConfidence` on /classifier over real HTTP (local server) with the
 * real small models (YOLOX-nano, MobileNetV2 int8); answers checked against openapi.json.
 */
import { startLocalServer, type LocalServer } from '../../local/server';
import { MALAMUTE_FAMILY, photo, smallModelEnv } from '../support/fixtures';
import { conforms } from '../support/openapi';

const dog = photo('dog.jpg');
const kite = photo('kite.jpg');
const jpeg = { 'Content-Type': 'image/jpeg' };
let server: LocalServer;

beforeAll(async () => {
  server = await startLocalServer({ port: 0, env: smallModelEnv() });
});
afterAll(() => server.close());

async function post(path: string, body: BodyInit | Buffer, headers: Record<string, string> = {}) {
  const payload = Buffer.isBuffer(body) ? new Uint8Array(body) : body;
  const res = await fetch(`${server.url}${path}`, { method: 'POST', body: payload, headers });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const labelsOf = (body: Record<string, any>) => (body.detections as { label: string }[]).map((d) => d.label);

describe('POST /detector?classes=', () => {
  it('without classes, dog.jpg has a dog and other objects (the baseline the filter narrows)', async () => {
    const r = await post('/detector', dog, jpeg);
    expect(r.status).toBe(200);
    expect(labelsOf(r.body)).toContain('dog');
    expect(labelsOf(r.body).some((l) => l !== 'dog')).toBe(true);
  });

  it.each(['dog', 'DOG', '16'])('classes=%s on dog.jpg answers only dogs', async (classes) => {
    const r = await post(`/detector?classes=${classes}`, dog, jpeg);
    expect(r.status).toBe(200);
    expect(conforms('DetectionResponse', r.body)).toEqual([]);
    expect(labelsOf(r.body).length).toBeGreaterThan(0);
    expect(new Set(labelsOf(r.body))).toEqual(new Set(['dog']));
    expect(r.body.label).toBe('dog');
  });

  it('classes=bicycle,car keeps both and nothing else; a class not in the photo answers no detection', async () => {
    const two = await post('/detector?classes=bicycle,car', dog, jpeg);
    expect(two.status).toBe(200);
    expect(new Set(labelsOf(two.body))).toEqual(new Set(['bicycle', 'car']));
    const none = await post('/detector?classes=giraffe', dog, jpeg);
    expect(none.status).toBe(200);
    expect(conforms('DetectionResponse', none.body)).toEqual([]);
    expect(none.body.detections).toEqual([]);
    expect(none.body.label).toBeNull();
  });

  it('applies before maxDetections: kite.jpg with classes=kite&maxDetections=3 answers 3 kites', async () => {
    const all = await post('/detector?maxDetections=3', kite, jpeg);
    expect(labelsOf(all.body)).toContain('person'); // people outscore kites here
    const kites = await post('/detector?classes=kite&maxDetections=3', kite, jpeg);
    expect(kites.status).toBe(200);
    expect(labelsOf(kites.body)).toEqual(['kite', 'kite', 'kite']);
  });

  it('an unknown class is 400 INVALID_PARAMETER naming the close match', async () => {
    const r = await post('/detector?classes=person,dgo', dog, jpeg);
    expect(r.status).toBe(400);
    expect(conforms('Error', r.body)).toEqual([]);
    expect(r.body.error).toBe('INVALID_PARAMETER');
    expect(r.body.details).toEqual({ parameter: 'classes' });
    expect(r.body.message).toContain("'dog'");
    expect(r.body.message).toContain('dgo');
  });

  it('an id out of range is 400 too', async () => {
    const r = await post('/detector?classes=80', dog, jpeg);
    expect(r.status).toBe(400);
    expect(r.body.details).toEqual({ parameter: 'classes' });
  });

  it('batches honour classes (form files, and a JSON array)', async () => {
    const form = new FormData();
    form.append('a', new Blob([new Uint8Array(dog)], { type: 'image/jpeg' }), 'dog.jpg');
    form.append('b', new Blob([new Uint8Array(kite)], { type: 'image/jpeg' }), 'kite.jpg');
    const r = await post('/detector?classes=dog', form);
    expect(r.status).toBe(200);
    expect(conforms('BatchResponse', r.body)).toEqual([]);
    const [a, b] = r.body.results as Record<string, any>[];
    expect(new Set(labelsOf(a!))).toEqual(new Set(['dog']));
    expect(b!.detections).toEqual([]);

    const json = await post(
      '/detector',
      JSON.stringify({ images: [{ image: dog.toString('base64') }], classes: ['bicycle', 16] }),
      { 'Content-Type': 'application/json' },
    );
    expect(json.status).toBe(200);
    expect(new Set(labelsOf(json.body.results[0]))).toEqual(new Set(['bicycle', 'dog']));

    const bad = await post('/detector?classes=dgo', form);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain("'dog'");
  });

  it('is refused on /classifier', async () => {
    const r = await post('/classifier?classes=dog', dog, jpeg);
    expect(r.status).toBe(400);
    expect(r.body.details).toEqual({ parameter: 'classes' });
  });
});

describe('POST /classifier?minConfidence=', () => {
  it('minConfidence=0.5 keeps only predictions ≥ 0.5 and the label stays Alaskan Malamute', async () => {
    const base = await post('/classifier', dog, jpeg);
    expect((base.body.predictions as unknown[]).length).toBe(5);
    const r = await post('/classifier?minConfidence=0.5', dog, jpeg);
    expect(r.status).toBe(200);
    expect(conforms('ClassificationResponse', r.body)).toEqual([]);
    const predictions = r.body.predictions as { label: string; probability: number }[];
    expect(predictions.length).toBeGreaterThan(0);
    expect(predictions.length).toBeLessThan(5);
    for (const p of predictions) expect(p.probability).toBeGreaterThanOrEqual(0.5);
    expect(r.body.label).toBe('Alaskan Malamute');
    expect(MALAMUTE_FAMILY).toContain(r.body.label);
    expect(predictions).toEqual(
      (base.body.predictions as { probability: number }[]).filter((p) => p.probability >= 0.5),
    );
  });

  it('minConfidence=0.99 answers 200 with label null and no predictions', async () => {
    const r = await post('/classifier?minConfidence=0.99', dog, jpeg);
    expect(r.status).toBe(200);
    expect(conforms('ClassificationResponse', r.body)).toEqual([]);
    expect(r.body.label).toBeNull();
    expect(r.body.predictions).toEqual([]);
  });

  it('batches honour it, each item conforming to the contract', async () => {
    const r = await post(
      '/classifier',
      JSON.stringify({ images: [{ image: dog.toString('base64') }], minConfidence: 0.99 }),
      { 'Content-Type': 'application/json' },
    );
    expect(r.status).toBe(200);
    expect(conforms('BatchResponse', r.body)).toEqual([]);
    expect(r.body.results[0].label).toBeNull();
    expect(r.body.results[0].predictions).toEqual([]);
  });
});

/**
 * "It's a kind of dog": /classifier answers carry the WordNet summary (the most specific ancestor
 * whose summed leaf probabilities reach summaryThreshold), over real HTTP with the real
 * MobileNetV2-int8 and the committed models/imagenet-hierarchy.json; answers checked against
 * openapi.json.
 */
import { startLocalServer, type LocalServer } from '../../local/server';
import { photo, smallModelEnv } from '../support/fixtures';
import { conforms } from '../support/openapi';

const jpeg = { 'Content-Type': 'image/jpeg' };
let server: LocalServer;

beforeAll(async () => {
  server = await startLocalServer({ port: 0, env: smallModelEnv() });
});
afterAll(() => server.close());

interface Summary {
  label: string;
  wnid: string;
  probability: number;
  path: string[];
}

async function post(path: string, body: Buffer | string, headers: Record<string, string> = jpeg) {
  const payload = Buffer.isBuffer(body) ? new Uint8Array(body) : body;
  const res = await fetch(`${server.url}${path}`, { method: 'POST', body: payload, headers });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const summaryOf = async (file: string, query = '') => {
  const r = await post(`/classifier${query}`, photo(file));
  expect(r.status).toBe(200);
  expect(conforms('ClassificationResponse', r.body)).toEqual([]);
  return {
    summary: r.body.summary as Summary | null,
    predictions: r.body.predictions as { probability: number }[],
  };
};

it('dog.jpg (75.6 % Alaskan Malamute, the rest other breeds): a kind of dog, "sled dog", with its path', async () => {
  const { summary } = await summaryOf('dog.jpg');
  expect(summary).toMatchObject({ label: 'sled dog', wnid: 'n02109811' });
  expect(summary?.path.slice(-3)).toEqual(['dog', 'working dog', 'sled dog']);
  expect(summary?.path[0]).toBe('animal');
  // More than the top class alone (malamute and Siberian husky are both sled dogs).
  expect(summary?.probability).toBeGreaterThan(0.756);
});

it('a higher summaryThreshold climbs to the ancestor that reaches it: 0.89 on dog.jpg is "dog"', async () => {
  const { summary } = await summaryOf('dog.jpg', '?summaryThreshold=0.89');
  expect(summary).toMatchObject({ label: 'dog', wnid: 'n02084071' });
  expect(summary?.probability).toBeGreaterThanOrEqual(0.89);
  expect(summary?.path.at(-1)).toBe('dog');
});

it('the cat photo (Egyptian cat, tiger cat and tabby split it): "domestic cat"', async () => {
  const { summary, predictions } = await summaryOf('cat_chelsea.png');
  expect(predictions[0]?.probability).toBeLessThan(0.75);
  expect(summary).toMatchObject({ label: 'domestic cat', wnid: 'n02121808' });
  expect(summary?.probability).toBeGreaterThan(0.95);
  expect(summary?.path).toEqual(expect.arrayContaining(['feline', 'cat', 'domestic cat']));
});

it('the coffee cup, which the model calls espresso (99.6 %): summarised as coffee, a beverage', async () => {
  const { summary } = await summaryOf('coffee_cup.webp');
  expect(summary).toMatchObject({ label: 'coffee', path: ['food', 'beverage', 'coffee'] });
});

it('summary is null when no ancestor reaches the threshold, never a root-most generic concept', async () => {
  // Nothing but "entity"-like concepts hold all of the probability; those are never answered.
  const { summary } = await summaryOf('dog.jpg', '?summaryThreshold=1');
  expect(summary).toBeNull();
});

it('batch answers carry a summary per image', async () => {
  const body = JSON.stringify({
    images: [
      { image: photo('dog.jpg').toString('base64') },
      { image: photo('cat_chelsea.png').toString('base64') },
    ],
  });
  const r = await post('/classifier', body, { 'Content-Type': 'application/json' });
  expect(r.status).toBe(200);
  expect(conforms('BatchResponse', r.body)).toEqual([]);
  expect(r.body.results.map((x: { summary: Summary }) => x.summary.label)).toEqual([
    'sled dog',
    'domestic cat',
  ]);
});

it('detector answers have no summary, and summaryThreshold there or out of range is a 400 naming it', async () => {
  const det = await post('/detector', photo('dog.jpg'));
  expect(det.status).toBe(200);
  expect(det.body).not.toHaveProperty('summary');
  for (const [path, q] of [
    ['/detector', 'summaryThreshold=0.5'],
    ['/classifier', 'summaryThreshold=0'],
    ['/classifier', 'summaryThreshold=1.5'],
    ['/classifier', 'summaryThreshold=abc'],
  ] as const) {
    const r = await post(`${path}?${q}`, photo('dog.jpg'));
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'INVALID_PARAMETER', details: { parameter: 'summaryThreshold' } });
  }
});

/**
 * The Postman collection in docs/postman names only routes the API has, with their methods, and
 * every body shape the README shows: binary, form, base64 JSON, batch, upload and URL.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import routeTable from '../../lambda/routes.json';
import { matchRoute } from '../../lambda/src/transports/http/routes';

interface PostmanItem {
  name: string;
  item?: PostmanItem[];
  request?: {
    method: string;
    url: { raw: string; path?: string[] };
    body?: { mode: string; raw?: string };
  };
}

const collection = JSON.parse(
  readFileSync(
    path.resolve(__dirname, '../../docs/postman/image-recognition.postman_collection.json'),
    'utf8',
  ),
) as { info: { schema: string }; item: PostmanItem[] };
const requests = (items: PostmanItem[]): PostmanItem[] =>
  items.flatMap((i) => (i.item ? requests(i.item) : i.request ? [i] : []));
const all = requests(collection.item);

test('is a Postman v2.1 collection', () => {
  expect(collection.info.schema).toBe('https://schema.getpostman.com/json/collection/v2.1.0/collection.json');
});

const api = all.filter((i) => i.request?.url.raw.startsWith('{{baseUrl}}'));
const routeOf = (item: PostmanItem) => matchRoute(`/${(item.request?.url.path ?? []).join('/')}`)?.route;

test('every API request names a route of lambda/routes.json with its method', () => {
  expect(api.length).toBeGreaterThan(10);
  for (const item of api) {
    expect({ name: item.name, method: routeOf(item)?.method }).toEqual({
      name: item.name,
      method: item.request?.method,
    });
  }
});

test('every route of lambda/routes.json has a request', () => {
  const covered = new Set(api.map((item) => routeOf(item)?.path));
  expect(routeTable.routes.map((r) => r.path).filter((p) => !covered.has(p))).toEqual([]);
});

test('covers the binary, form, base64, batch, upload and URL shapes, with JSON bodies that parse', () => {
  const modes = new Set(all.map((i) => i.request?.body?.mode));
  expect([...modes]).toEqual(expect.arrayContaining(['file', 'formdata', 'raw']));
  const raws = all.flatMap((i) => (i.request?.body?.raw ? [i.request.body.raw] : []));
  const parsed = raws.map(
    (r) => JSON.parse(r.replace(/\{\{uploadSize\}\}/g, '1')) as Record<string, unknown>,
  );
  for (const key of ['image', 'images', 's3', 'url', 'contentType']) {
    expect(parsed.some((p) => key in p)).toBe(true);
  }
  expect(all.some((i) => i.request?.method === 'PUT' && i.request.url.raw === '{{uploadUrl}}')).toBe(true);
});

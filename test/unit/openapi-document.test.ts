/**
 * openapi.json as tools read it (`npm run lint:openapi` holds it to Redocly's recommended rules;
 * these are the parts that depend on this API): exactly the routes of lambda/routes.json, the API
 * key where a deployment can ask for it and never on the public routes, a summary, an id, a
 * success and a client error on every operation, servers to call, and examples that fit their
 * schemas.
 */
import openapi from '../../lambda/src/transports/http/openapi.json';
import routeTable from '../../lambda/routes.json';
import { conformsAt, pointerOf } from '../support/openapi';

type SecurityRequirement = Record<string, string[]>;
interface Operation {
  operationId?: string;
  summary?: string;
  security?: SecurityRequirement[];
  responses?: Record<string, unknown>;
}
interface Document {
  servers?: { url: string; variables?: Record<string, { default: string }> }[];
  security?: SecurityRequirement[];
  paths: Record<string, Record<string, unknown>>;
  components: {
    securitySchemes?: Record<string, { type: string; in?: string; name?: string; description?: string }>;
  };
}

const doc = openapi as unknown as Document;
const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([method]) => METHODS.has(method))
    .map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, op: op as Operation })),
);
const routes = routeTable.routes.map((r) => ({ ...r, route: `${r.method} ${r.path}` }));
const operation = (route: string): Operation | undefined => operations.find((o) => o.route === route)?.op;

test('documents every route of lambda/routes.json, and no other', () => {
  const documented = new Set(operations.map((o) => o.route));
  const table = new Set(routes.map((r) => r.route));
  expect({
    undocumented: [...table].filter((r) => !documented.has(r)),
    notInTable: [...documented].filter((r) => !table.has(r)),
  }).toEqual({ undocumented: [], notInTable: [] });
});

test('declares the x-api-key header scheme, and says when deployments require it', () => {
  expect(doc.components.securitySchemes?.apiKey).toMatchObject({
    type: 'apiKey',
    in: 'header',
    name: 'x-api-key',
  });
  expect(doc.components.securitySchemes?.apiKey?.description).toMatch(/apiKey=true/);
});

test('the key is optional everywhere (the local server and CloudFront need none), never asked on public routes', () => {
  // Either the key or nothing: an empty requirement object means anonymous calls are allowed too.
  expect(doc.security).toEqual(expect.arrayContaining([{ apiKey: [] }, {}]));
  for (const r of routes) {
    const op = operation(r.route);
    if (r.public) {
      expect({ route: r.route, security: op?.security }).toEqual({ route: r.route, security: [] });
    } else {
      // Not overridden to "no security": the document-wide requirement (the key) applies.
      const effective = op?.security ?? doc.security;
      expect({ route: r.route, hasKey: effective?.some((s) => 'apiKey' in s) }).toEqual({
        route: r.route,
        hasKey: true,
      });
    }
  }
});

test('every operation has a summary, a unique operationId, a 2xx and a 4xx response', () => {
  const problems = operations.flatMap(({ route, op }) => {
    const codes = Object.keys(op.responses ?? {});
    return [
      ...(op.summary?.trim() ? [] : [`${route}: no summary`]),
      ...(op.operationId?.trim() ? [] : [`${route}: no operationId`]),
      ...(codes.some((c) => /^2(\d\d|XX)$/.test(c)) ? [] : [`${route}: no 2xx response`]),
      ...(codes.some((c) => /^4(\d\d|XX)$/.test(c)) ? [] : [`${route}: no 4xx response`]),
    ];
  });
  expect(problems).toEqual([]);
  const ids = operations.map((o) => o.op.operationId);
  expect(new Set(ids).size).toBe(ids.length);
});

test('names servers to call, each server variable with a default', () => {
  expect(doc.servers?.length).toBeGreaterThan(0);
  for (const server of doc.servers ?? []) {
    const variables = [...server.url.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] ?? '');
    expect({
      url: server.url,
      defaults: variables.map((v) => typeof server.variables?.[v]?.default),
    }).toEqual({
      url: server.url,
      defaults: variables.map(() => 'string'),
    });
  }
});

interface Example {
  where: string;
  schema: string;
  value: unknown;
}

/** Resolves an in-document `$ref` (`#/components/examples/…`). */
function resolve(node: unknown): unknown {
  const ref = (node as { $ref?: unknown } | null)?.$ref;
  if (typeof ref !== 'string') return node;
  if (!ref.startsWith('#/')) throw new Error(`external $ref ${ref}`);
  return ref
    .slice(2)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((n, key) => (n as Record<string, unknown>)[key], openapi);
}

/**
 * Every `example` and `examples` of the document, with the schema it must fit: the sibling `schema`
 * of a parameter, header or media type, or the schema that holds it (JSON Schema `examples`).
 * `names` marks maps whose keys are names (a schema's properties), not keywords.
 */
function examplesIn(node: unknown, at: (string | number)[], out: Example[], names = false): Example[] {
  if (Array.isArray(node)) {
    node.forEach((v, i) => examplesIn(v, [...at, i], out));
    return out;
  }
  if (!node || typeof node !== 'object') return out;
  const obj = node as Record<string, unknown>;
  if (!names) {
    const schema = pointerOf(obj.schema && typeof obj.schema === 'object' ? [...at, 'schema'] : at);
    if ('example' in obj) out.push({ where: pointerOf([...at, 'example']), schema, value: obj.example });
    if (Array.isArray(obj.examples)) {
      obj.examples.forEach((value, i) =>
        out.push({ where: pointerOf([...at, 'examples', i]), schema, value }),
      );
    } else if (obj.examples && typeof obj.examples === 'object' && 'schema' in obj) {
      for (const [name, ex] of Object.entries(obj.examples)) {
        const example = resolve(ex) as { value?: unknown; externalValue?: string };
        if (example.externalValue !== undefined) continue;
        out.push({ where: pointerOf([...at, 'examples', name]), schema, value: example.value });
      }
    }
  }
  for (const [key, value] of Object.entries(obj)) {
    if (!names && (key === 'example' || key === 'examples')) continue;
    const keyedByName =
      !names && ['properties', 'patternProperties', '$defs', 'dependentSchemas'].includes(key);
    examplesIn(value, [...at, key], out, keyedByName);
  }
  return out;
}

test('every example fits its schema', () => {
  const examples = examplesIn(openapi, [], []);
  // The classes parameter, the uploads body and the classifier's and detector's JSON bodies at least.
  expect(examples.length).toBeGreaterThanOrEqual(10);
  const misfits = examples.flatMap((e) => {
    const errors = e.value === undefined ? ['no value'] : conformsAt(e.schema, e.value);
    return errors.length ? [{ example: e.where, errors }] : [];
  });
  expect(misfits).toEqual([]);
});

test('the check catches a value that does not fit, formats included', () => {
  const upload = pointerOf([
    'paths',
    '/uploads',
    'post',
    'requestBody',
    'content',
    'application/json',
    'schema',
  ]);
  expect(conformsAt(upload, { contentType: 'image/jpeg', size: 5 })).toEqual([]);
  expect(conformsAt(upload, { contentType: 'image/bmp', size: 0 })).not.toEqual([]);
  const reference = pointerOf(['components', 'schemas', 'ImageReference']);
  expect(conformsAt(reference, { url: 'https://images.example.com/dog.jpg' })).toEqual([]);
  expect(conformsAt(reference, { url: 'dog.jpg' })).not.toEqual([]);
});

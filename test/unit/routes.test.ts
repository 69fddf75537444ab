/** openapi.json documents exactly the routes of the one route table (lambda/routes.json). */
import openapi from '../../lambda/src/transports/http/openapi.json';
import { ROUTES } from '../../lambda/src/transports/http/routes';

it('openapi.json has one operation per route of lambda/routes.json, with the same method', () => {
  const documented = Object.entries(openapi.paths as Record<string, Record<string, unknown>>)
    .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
    .sort();
  expect(documented).toEqual([...ROUTES.values()].map((r) => `${r.method} ${r.path}`).sort());
});

it('every route that takes a photo names its task', () => {
  expect(Object.fromEntries([...ROUTES.values()].filter((r) => r.task).map((r) => [r.path, r.task]))).toEqual(
    {
      '/classifier': 'classification',
      '/detector': 'detection',
    },
  );
});

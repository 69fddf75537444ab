/** openapi.json documents exactly the routes of the one route table (lambda/routes.json). */
import openapi from '../../lambda/src/transports/http/openapi.json';
import { matchRoute, ROUTES } from '../../lambda/src/transports/http/routes';

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

describe('matchRoute', () => {
  it('takes a path parameter from one non-empty segment, decoded', () => {
    expect(matchRoute('/v2/models/mobilenetv2-12-int8/infer')).toEqual({
      route: expect.objectContaining({ path: '/v2/models/{model}/infer', method: 'POST', protocol: 'v2' }),
      params: { model: 'mobilenetv2-12-int8' },
    });
    expect(matchRoute('/v2/models/a%20b')?.params).toEqual({ model: 'a b' });
  });

  it('prefers an exact path, and matches nothing for an empty segment, extra segments or bad escapes', () => {
    expect(matchRoute('/v2/health/ready')?.route.path).toBe('/v2/health/ready');
    expect(matchRoute('/classifier')).toEqual({
      route: expect.objectContaining({ path: '/classifier' }),
      params: {},
    });
    for (const path of ['/v2/models//infer', '/v2/models/x/infer/more', '/v2/models/%E0%A4%A', '/nope']) {
      expect(matchRoute(path)).toBeUndefined();
    }
  });
});

import type { Task } from '../../core/manifest';
import table from '../../../routes.json';

export interface Route {
  /** The path, with `{name}` for a path parameter (API Gateway's syntax). */
  path: string;
  method: string;
  /** Routes that take a photo, and what they do with it. */
  task?: Task;
  /** `v2`: an Open Inference Protocol route (its own body and error shapes). */
  protocol?: 'v2';
  /** Never needs the API key (health checks, the API description). */
  public: boolean;
}

/** lambda/routes.json, the one route table, by path. */
export const ROUTES: ReadonlyMap<string, Route> = new Map((table.routes as Route[]).map((r) => [r.path, r]));

export interface RouteMatch {
  route: Route;
  /** Path parameters by name, decoded. */
  params: Record<string, string>;
}

const PARAM = /^\{(\w+)\}$/;

/** One route's path as segments: literals to equal, parameters to capture. */
const TEMPLATES = [...ROUTES.values()].map((route) => ({ route, segments: route.path.split('/') }));

/**
 * The route a (normalised) path takes: an exact path first, then a template whose `{name}`
 * segments each take one non-empty segment. A segment that does not decode as URI text matches
 * nothing (no route rather than a 500).
 */
export function matchRoute(path: string): RouteMatch | undefined {
  const exact = ROUTES.get(path);
  if (exact) return { route: exact, params: {} };
  const segments = path.split('/');
  for (const { route, segments: template } of TEMPLATES) {
    if (template.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matched = template.every((t, i) => {
      const s = segments[i] ?? '';
      const name = PARAM.exec(t)?.[1];
      if (!name) return t === s;
      if (s === '') return false;
      try {
        params[name] = decodeURIComponent(s);
      } catch {
        return false;
      }
      return true;
    });
    if (matched) return { route, params };
  }
  return undefined;
}

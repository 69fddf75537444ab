import type { Task } from '../../core/manifest';
import table from '../../../routes.json';

export interface Route {
  path: string;
  method: string;
  /** Routes that take a photo, and what they do with it. */
  task?: Task;
  /** Never needs the API key (health checks, the API description). */
  public: boolean;
}

/** lambda/routes.json, the one route table, by path. */
export const ROUTES: ReadonlyMap<string, Route> = new Map((table.routes as Route[]).map((r) => [r.path, r]));

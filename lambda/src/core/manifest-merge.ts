import type { Manifest } from './manifest';

export class ManifestError extends Error {
  override name = 'ManifestError';
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Objects merge key by key; arrays, scalars and null replace. */
function deepMerge(base: Json, patch: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

/**
 * Applies a user manifest to the built-in one: entries with a known id override fields of that
 * entry, new ids are added whole. The result is validated, so a bad override fails at start-up
 * with the field it got wrong.
 */
export function mergeManifests(base: Manifest, user: unknown, source = 'user manifest'): Manifest {
  if (!isObject(user) || !Array.isArray(user.models)) {
    throw new ManifestError(`${source}: expected {"models": [...]}`);
  }
  const byId = new Map<string, Json>(base.models.map((m) => [m.id, m as unknown as Json]));
  for (const [i, entry] of (user.models as unknown[]).entries()) {
    if (!isObject(entry) || typeof entry.id !== 'string' || entry.id === '') {
      throw new ManifestError(`${source}: models[${i}] needs a string "id"`);
    }
    const existing = byId.get(entry.id);
    const patch = withUrlList(entry);
    byId.set(entry.id, existing ? deepMerge(existing, patch) : patch);
  }
  return validateManifest({ models: [...byId.values()] }, source);
}

export function validateManifest(manifest: unknown, source = 'manifest'): Manifest {
  if (!isObject(manifest) || !Array.isArray(manifest.models)) {
    throw new ManifestError(`${source}: expected {"models": [...]}`);
  }
  const seen = new Set<string>();
  for (const m of manifest.models as unknown[]) {
    const id = isObject(m) && typeof m.id === 'string' ? m.id : '?';
    const where = `${source}: model '${id}'`;
    const fail = (field: string, want: string): never => {
      throw new ManifestError(`${where}: ${field} must be ${want}`);
    };
    if (!isObject(m)) return fail('entry', 'an object');
    if (typeof m.id !== 'string' || m.id === '') fail('id', 'a non-empty string');
    if (seen.has(id)) fail('id', 'unique');
    seen.add(id);
    const str = (v: unknown, field: string) =>
      typeof v === 'string' && v !== '' ? v : fail(field, 'a non-empty string');
    const num = (v: unknown, field: string, min = 0) =>
      typeof v === 'number' && Number.isFinite(v) && v >= min ? v : fail(field, `a number >= ${min}`);
    const obj = (v: unknown, field: string) => (isObject(v) ? v : fail(field, 'an object'));
    const oneOf = (v: unknown, field: string, options: readonly string[]) =>
      typeof v === 'string' && options.includes(v) ? v : fail(field, `one of ${options.join(' | ')}`);

    oneOf(m.task, 'task', ['classification', 'detection']);
    str(m.file, 'file');
    if (m.sha256 !== null && !(typeof m.sha256 === 'string' && /^[0-9a-f]{64}$/.test(m.sha256))) {
      fail('sha256', 'null or 64 lowercase hex digits');
    }
    const input = obj(m.input, 'input');
    str(input.name, 'input.name');
    oneOf(input.layout, 'input.layout', ['NCHW', 'NHWC']);
    num(input.width, 'input.width', 1);
    num(input.height, 'input.height', 1);
    oneOf(input.dtype, 'input.dtype', ['float32']);
    const pre = obj(m.preprocess, 'preprocess');
    const resize = obj(pre.resize, 'preprocess.resize');
    const mode = oneOf(resize.mode, 'preprocess.resize.mode', ['center-crop', 'letterbox', 'stretch']);
    if (mode === 'center-crop') num(resize.shorterSide, 'preprocess.resize.shorterSide', 1);
    if (mode === 'letterbox') {
      oneOf(resize.align, 'preprocess.resize.align', ['center', 'top-left']);
      num(resize.padValue, 'preprocess.resize.padValue');
    }
    oneOf(pre.channels, 'preprocess.channels', ['RGB', 'BGR']);
    num(pre.scale, 'preprocess.scale');
    for (const k of ['mean', 'std'] as const) {
      const v = pre[k];
      if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number'))
        fail(`preprocess.${k}`, 'three numbers');
    }
    if (!Array.isArray(m.outputs) || m.outputs.length === 0) fail('outputs', 'a non-empty array');
    const post = obj(m.postprocess, 'postprocess');
    const family = oneOf(post.family, 'postprocess.family', ['classification', 'yolo-heads', 'yolox']);
    if ((family === 'classification') !== (m.task === 'classification')) {
      fail('postprocess.family', `a ${String(m.task)} family`);
    }
    if (family !== 'classification') {
      num(post.scoreThreshold, 'postprocess.scoreThreshold');
      num(post.iouThreshold, 'postprocess.iouThreshold');
      num(post.maxDetections, 'postprocess.maxDetections', 1);
    }
    if (family === 'yolo-heads') {
      oneOf(post.headLayout, 'postprocess.headLayout', ['grid-anchor-attrs', 'darknet']);
      if (!Array.isArray(post.heads) || post.heads.length === 0)
        fail('postprocess.heads', 'a non-empty array');
    }
    const labels = obj(m.labels, 'labels');
    str(labels.names, 'labels.names');
    if (labels.hierarchy !== undefined && labels.hierarchy !== null) {
      str(labels.hierarchy, 'labels.hierarchy');
      str(labels.synsets, 'labels.synsets (a hierarchy is keyed by synset)');
    }
    num(m.numClasses, 'numClasses', 1);
    const urls = m.urls ?? [];
    if (!Array.isArray(urls) || !urls.every((u) => typeof u === 'string' && /^https?:\/\//.test(u)))
      fail('urls', 'a list of http(s) URLs');
    if ('url' in m) fail('url', 'an http(s) URL or null');
  }
  return {
    models: (manifest.models as Json[]).map((m) => ({ ...m, urls: m.urls ?? [] })),
  } as unknown as Manifest;
}

/** The older one-address form: `"url": "…"` is `"urls": ["…"]`, `"url": null` is `"urls": []`. */
function withUrlList(entry: Json): Json {
  if (!('url' in entry)) return entry;
  const { url, urls, ...rest } = entry;
  if (url !== null && typeof url !== 'string') return entry; // validation names the field
  const list = [...(url ? [url] : []), ...((Array.isArray(urls) ? urls : []) as unknown[])];
  return { ...rest, urls: list };
}

import Ajv2020 from 'ajv/dist/2020';
import openapi from '../../lambda/src/transports/http/openapi.json';

const ajv = new Ajv2020({ strict: false, allErrors: true });
// Without ajv-formats ajv ignores formats (with a warning): the two the document uses are checked.
ajv.addFormat('uri', (s: string) => URL.canParse(s));
ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i);
ajv.addSchema(openapi, 'openapi');

/** A JSON pointer (RFC 6901) into openapi.json from its path segments, e.g. ['paths', '/models']. */
export function pointerOf(segments: readonly (string | number)[]): string {
  return segments.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/**
 * What in `body` breaks the schema at `pointer` in openapi.json (empty when it conforms): any
 * schema of the document, e.g. `/components/schemas/Error` or a media type's
 * `/paths/~1uploads/post/requestBody/content/application~1json/schema`.
 */
export function conformsAt(pointer: string, body: unknown): string[] {
  // A URI fragment: each pointer segment percent-encoded (ajv decodes it back).
  const fragment = pointer
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
  const validate = ajv.getSchema(`openapi#${fragment}`);
  if (!validate) throw new Error(`no schema at ${pointer}`);
  return validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}

/** What in `body` breaks openapi.json's schema `schema` (empty when it conforms). */
export function conforms(schema: string, body: unknown): string[] {
  return conformsAt(pointerOf(['components', 'schemas', schema]), body);
}

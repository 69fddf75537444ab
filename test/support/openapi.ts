import Ajv2020 from 'ajv/dist/2020';
import openapi from '../../lambda/src/transports/http/openapi.json';

const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema(openapi, 'openapi');

/** What in `body` breaks openapi.json's schema `schema` (empty when it conforms). */
export function conforms(schema: string, body: unknown): string[] {
  const validate = ajv.getSchema(`openapi#/components/schemas/${schema}`);
  if (!validate) throw new Error(`no schema ${schema}`);
  return validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}

/**
 * The S3 test server (s3rver 3.7.1) calls the fast-xml-parser 3.x API. package.json overrides its
 * fast-xml-parser with scripts/fast-xml-parser-v3-compat, which serves those calls from
 * fast-xml-parser 4.5.7 (3.21.1, the last 3.x, has GHSA-x3cc-x39p-42qx). The expected values below
 * are what fast-xml-parser 3.21.1 returned for the same calls, with the options s3rver passes
 * (lib/s3rver.js, lib/models/error.js, lib/models/config.js, lib/controllers/object.js,
 * lib/utils.js); the S3 model-source tests (test/models/s3-model-source.test.ts) run s3rver on it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

interface XmlNode {
  tagname: string;
  child: Record<string, XmlNode[]>;
}
interface V3Api {
  parse(xml: string, options?: object, validation?: boolean | object): Record<string, unknown>;
  validate(xml: string): true | { err: { code: string; msg: string; line: number; col: number } };
  getTraversalObj(xml: string): XmlNode;
  j2xParser: new (options?: object) => { parse(obj: object): string };
}

const REPO_ROOT = path.resolve(__dirname, '../..');
const fromS3rver = createRequire(createRequire(__filename).resolve('s3rver'));
const fxp = fromS3rver('fast-xml-parser') as V3Api;

const escapeXml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const unescapeXml = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
const CORS =
  '<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CORSRule><AllowedOrigin>*</AllowedOrigin>' +
  '<AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod><MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule></CORSConfiguration>';

describe('fast-xml-parser under s3rver', () => {
  test('is the compat folder, on fast-xml-parser 4.5.7', () => {
    expect(fromS3rver.resolve('fast-xml-parser')).toBe(
      path.join(REPO_ROOT, 'scripts/fast-xml-parser-v3-compat/index.js'),
    );
    const real = createRequire(path.join(REPO_ROOT, 'scripts/fast-xml-parser-v3-compat/index.js'));
    const pkg = JSON.parse(readFileSync(real.resolve('fast-xml-parser/package.json'), 'utf8')) as {
      version: string;
    };
    expect(pkg.version).toBe('4.5.7');
  });

  test('builds response bodies as 3.21.1 did (attribute group "@", values escaped by the caller)', () => {
    const builder = new fxp.j2xParser({
      ignoreAttributes: false,
      attrNodeName: '@',
      tagValueProcessor: (a: unknown) => escapeXml(String(a)),
    });
    const body = {
      ListBucketResult: {
        '@': { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' },
        Name: 'models',
        Prefix: '',
        MaxKeys: 1000,
        IsTruncated: false,
        Contents: [
          { Key: 'a&b<c>.onnx', ETag: '"9b2"', Size: 12 },
          { Key: 'labels.txt', Size: 0 },
        ],
        CommonPrefixes: [],
        Delimiter: null,
        Marker: undefined,
      },
    };
    expect(builder.parse(body)).toBe(
      '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>models</Name><Prefix></Prefix>' +
        '<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key>a&amp;b&lt;c&gt;.onnx</Key>' +
        '<ETag>&quot;9b2&quot;</ETag><Size>12</Size></Contents><Contents><Key>labels.txt</Key><Size>0</Size>' +
        '</Contents><Delimiter/></ListBucketResult>',
    );
    const error = new fxp.j2xParser({ tagValueProcessor: (a: unknown) => escapeXml(String(a)) });
    expect(
      error.parse({
        Error: { Code: 'NoSuchKey', Message: 'The specified key does not exist.', Key: 'x<y>', RequestId: 7 },
      }),
    ).toBe(
      '<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>x&lt;y&gt;</Key><RequestId>7</RequestId></Error>',
    );
  });

  test('parses request bodies and bucket configs as 3.21.1 did (no entity decoding of its own)', () => {
    const del =
      '<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      '<Object><Key>a&amp;b</Key></Object><Object><Key>0123</Key></Object><Quiet>true</Quiet></Delete>';
    expect(fxp.validate(del)).toBe(true);
    expect(fxp.parse(del, { tagValueProcessor: (a: string) => unescapeXml(a) })).toEqual({
      Delete: { Object: [{ Key: 'a&b' }, { Key: 123 }], Quiet: true },
    });
    const config = fxp.parse(CORS, {
      ignoreAttributes: false,
      parseNodeValue: true,
      tagValueProcessor: unescapeXml,
    });
    expect(config).toEqual({
      CORSConfiguration: {
        '@_xmlns': 'http://s3.amazonaws.com/doc/2006-03-01/',
        CORSRule: { AllowedOrigin: '*', AllowedMethod: ['GET', 'HEAD'], MaxAgeSeconds: 3000 },
      },
    });
    expect(new fxp.j2xParser({ ignoreAttributes: false, format: true, indentBy: '  ' }).parse(config)).toBe(
      '<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\n  <CORSRule>\n    <AllowedOrigin>*</AllowedOrigin>\n' +
        '    <AllowedMethod>GET</AllowedMethod>\n    <AllowedMethod>HEAD</AllowedMethod>\n    <MaxAgeSeconds>3000</MaxAgeSeconds>\n' +
        '  </CORSRule>\n</CORSConfiguration>\n',
    );
    expect(Object.values(fxp.getTraversalObj(CORS).child)[0]?.[0]?.tagname).toBe('CORSConfiguration');
    expect(fxp.validate('<a><b></a>')).toEqual({
      err: {
        code: 'InvalidTag',
        msg: "Expected closing tag 'b' (opened in line 1, col 4) instead of closing tag 'a'.",
        line: 1,
        col: 7,
      },
    });
  });

  test('a __proto__ tag does not pollute Object.prototype (GHSA-x3cc-x39p-42qx, what 3.21.1 allowed)', () => {
    const parsed = fxp.parse('<__proto__><polluted>hacked</polluted></__proto__>');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
  });
});

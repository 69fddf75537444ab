/**
 * A prepared copy is loaded only while it matches the sha256 the tool recorded when it made it
 * (`<copy>.json`); a changed copy or weights file, or a copy without its record, is passed over
 * and the source is loaded instead.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findPreparedCopy } from '../../lambda/src/adapters/prepared-models';
import { sha256File } from '../../lambda/src/adapters/sha256';
import { prepareModel } from '../../tools/model-prep/onnx-graph-rewrite';
import { EMBEDDED_MODELS } from '../support/fixtures';

const SHA = '83530ad811bc31d2b60a5599a21265a5057608c9b044b4ee758cc22f2309f54f';
let dir: string;
let source: string;
let copy: string;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'prepared-verify-'));
  source = path.join(dir, 'mobilenetv2-12-int8.onnx');
  copyFileSync(path.join(EMBEDDED_MODELS, 'mobilenetv2-12-int8.onnx'), source);
  const prepared = await prepareModel(source, SHA, path.join(dir, 'cache'));
  expect(prepared.externalTensors).toBeGreaterThan(0);
  copy = prepared.file;
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const find = () => findPreparedCopy(path.join(dir, 'cache'), source, SHA, sha256File);

function flipLastByte(file: string): void {
  const bytes = readFileSync(file);
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
  writeFileSync(file, bytes);
}

it('finds the copy the tool made, with the checksums it recorded', async () => {
  expect(await find()).toBe(copy);
  const record = JSON.parse(readFileSync(`${copy}.json`, 'utf8')) as {
    sha256: { model: string; data: string };
  };
  expect(record.sha256).toEqual({ model: await sha256File(copy), data: await sha256File(`${copy}.data`) });
});

it('passes over a copy whose weights file changed', async () => {
  flipLastByte(`${copy}.data`);
  expect(await find()).toBeNull();
});

it('passes over a copy whose model file changed', async () => {
  flipLastByte(copy);
  expect(await find()).toBeNull();
});

it('passes over a copy without its record, and the tool makes it again with one', async () => {
  rmSync(`${copy}.json`);
  expect(await find()).toBeNull();
  const again = await prepareModel(source, SHA, path.join(dir, 'cache'));
  expect(again).toMatchObject({ file: copy, cached: false });
  expect(await find()).toBe(copy);
});

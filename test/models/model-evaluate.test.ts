/**
 * `npm run models:evaluate` (tools/model-eval) as a user runs it: a child process on the real
 * embedded models and the fixture photos, its printed verdict, its JSON report and its exit code.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../lambda/src/adapters/config';
import { quantizeModel } from '../../tools/model-prep/quantize-model';
import { FIXTURE_IMAGES, MALAMUTE_FAMILY, photo, REPO_ROOT, smallModelEnv } from '../support/fixtures';

jest.setTimeout(120_000);

const env = smallModelEnv({ ORT_INTRA_OP_THREADS: '1' });
const PHOTOS = 8; // the image files of test/fixtures/images (not its .md files)

function evaluate(args: string[], extraEnv: Record<string, string> = {}) {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'model-eval-')), 'report.json');
  const res = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'tools/model-eval/evaluate-cli.ts', ...args, '--out', out],
    { cwd: REPO_ROOT, env: { ...env, ...extraEnv }, encoding: 'utf8' },
  );
  let report: any = null;
  try {
    report = JSON.parse(readFileSync(out, 'utf8'));
  } catch {
    // no report: a usage or model error
  }
  return { status: res.status, stdout: res.stdout, stderr: res.stderr, report };
}

it('MobileNetV2-int8 against itself: 100 % top-1 and top-5 agreement, no drift, PASS, exit 0', () => {
  const r = evaluate([
    'mobilenetv2-12-int8',
    '--reference',
    'mobilenetv2-12-int8',
    '--photos',
    FIXTURE_IMAGES,
  ]);
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  expect(r.report).toMatchObject({
    task: 'classification',
    candidate: 'mobilenetv2-12-int8',
    reference: 'mobilenetv2-12-int8',
    evaluated: PHOTOS,
    failures: [],
    overall: { photos: PHOTOS, top1: 1, top5: 1, meanProbabilityDrift: 0 },
    verdict: { pass: true, line: 'PASS: top-1 agreement 1 ≥ 0.9' },
  });
  const dog = r.report.photos.find((p: any) => p.name === 'dog.jpg');
  expect(MALAMUTE_FAMILY).toContain(dog.reference.label);
  expect(dog).toMatchObject({ top1Agrees: true, candidate: dog.reference, probabilityDrift: 0 });
  expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('PASS: top-1 agreement 1 ≥ 0.9');
});

it('YOLOX-nano against itself: precision = recall = 1, mean IoU 1, no score drift, PASS', () => {
  const r = evaluate(['yolox-nano', '--reference', 'yolox-nano', '--photos', FIXTURE_IMAGES]);
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  expect(r.report).toMatchObject({
    task: 'detection',
    evaluated: PHOTOS,
    overall: { precision: 1, recall: 1, meanIoU: 1, meanScoreDrift: 0 },
    verdict: { pass: true, line: 'PASS: recall 1 ≥ 0.9, precision 1 ≥ 0.9' },
    options: { minConfidence: null, matchIoU: 0.5 },
  });
  // person.jpg: person, dog and horse (EXPECTED.md), every one matched.
  const person = r.report.photos.find((p: any) => p.name === 'person.jpg');
  expect(person).toMatchObject({ referenceBoxes: 3, candidateBoxes: 3, matched: 3, missed: [], extra: [] });
  expect(r.report.overall.referenceBoxes).toBeGreaterThanOrEqual(12);
});

it('Yolo-Fastest against YOLOX-nano: two real detectors disagree, FAIL, exit 1', () => {
  const r = evaluate([
    'yolo-fastest-1.1-xl',
    '--reference',
    'yolox-nano',
    '--photos',
    FIXTURE_IMAGES,
    '--min-confidence',
    '0.25',
  ]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(1);
  const { overall, verdict } = r.report;
  expect(r.report.options.minConfidence).toBe(0.25);
  // They agree on most objects, with boxes of their own…
  expect(overall.matched).toBeGreaterThan(overall.referenceBoxes / 2);
  expect(overall.meanIoU).toBeGreaterThan(0.6);
  expect(overall.meanIoU).toBeLessThan(0.95);
  // …but not on all: on person.jpg both find the person and the dog, and Yolo-Fastest calls the horse a sheep.
  const person = r.report.photos.find((p: any) => p.name === 'person.jpg');
  expect(person.matches.map((m: any) => m.label).sort()).toEqual(['dog', 'person']);
  expect(person.missed.map((b: any) => b.label)).toEqual(['horse']);
  expect(person.extra.map((b: any) => b.label)).toContain('sheep');
  // …but not on all of them.
  expect(Math.min(overall.precision, overall.recall)).toBeLessThan(1);
  expect(verdict.pass).toBe(false);
  expect(verdict.line).toMatch(/^FAIL: recall [\d.]+ [<≥] 0\.9, precision [\d.]+ [<≥] 0\.9$/);
  expect(verdict.line).toContain('<');
  expect(r.stdout).toContain(verdict.line);
  expect(r.stdout).toMatch(/missed: |extra: /);
});

it('walks sub-folders, skips other files, and reports an unreadable photo without stopping', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'model-eval-photos-'));
  mkdirSync(path.join(dir, 'more'));
  copyFileSync(path.join(FIXTURE_IMAGES, 'dog.jpg'), path.join(dir, 'dog.jpg'));
  copyFileSync(path.join(FIXTURE_IMAGES, 'kite.jpg'), path.join(dir, 'more', 'kite.jpg'));
  writeFileSync(path.join(dir, 'broken.jpg'), 'not a JPEG');
  writeFileSync(path.join(dir, 'notes.txt'), 'not a photo');
  const r = evaluate(['mobilenetv2-12-int8', '--reference', 'mobilenetv2-12-int8', '--photos', dir]);
  expect(r.status).toBe(0);
  expect(r.report.photos.map((p: any) => p.name)).toEqual(['dog.jpg', path.join('more', 'kite.jpg')]);
  expect(r.report.failures).toEqual([
    { name: 'broken.jpg', error: expect.stringMatching(/^UNPROCESSABLE_IMAGE|^UNSUPPORTED_MEDIA_TYPE/) },
  ]);
  expect(r.stdout).toContain('Left out (1):');
});

it('answers usage errors with 2 and model problems with 3', () => {
  expect(evaluate(['yolox-nano', '--photos', FIXTURE_IMAGES]).status).toBe(2);
  expect(
    evaluate(['yolox-nano', '--reference', 'yolox-nano', '--photos', FIXTURE_IMAGES, '--min-recall', '2'])
      .status,
  ).toBe(2);
  const unknown = evaluate(['no-such-model', '--reference', 'yolox-nano', '--photos', FIXTURE_IMAGES]);
  expect(unknown.status).toBe(3);
  expect(unknown.stderr).toContain("Unknown model 'no-such-model'");
  const tasks = evaluate(['mobilenetv2-12-int8', '--reference', 'yolox-nano', '--photos', FIXTURE_IMAGES]);
  expect(tasks.status).toBe(3);
  expect(tasks.stderr).toContain('compare two models of one task');
});

it('an int8 Yolo-Fastest with its two most sensitive convolutions float agrees with the float model on held-out photos', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'model-eval-int8-'));
  const report = await quantizeModel(
    loadConfig(env),
    'yolo-fastest-1.1-xl',
    ['eagle.jpg', 'cat_chelsea.png', 'coffee_cup.webp'].map(photo),
    path.join(dir, 'yolo-fastest-int8.onnx'),
    { keepFloat: 2 },
  );
  expect(report.keptFloat.map((k) => k.output)).toEqual(['l2_conv', 'l1_conv']);
  const heldOut = path.join(dir, 'held-out');
  mkdirSync(heldOut);
  for (const name of ['dog.jpg', 'dog_exif_orientation6.jpg', 'kite.jpg', 'person.jpg', 'astronaut.jpg']) {
    copyFileSync(path.join(FIXTURE_IMAGES, name), path.join(heldOut, name));
  }
  const r = evaluate(
    ['yolo-fastest-1.1-xl-int8', '--reference', 'yolo-fastest-1.1-xl', '--photos', heldOut],
    {
      MODEL_MANIFEST: report.manifest,
    },
  );
  expect({ status: r.status, stderr: r.stderr, verdict: r.report.verdict.line }).toEqual({
    status: 0,
    stderr: '',
    verdict: expect.stringMatching(/^PASS: /),
  });
});

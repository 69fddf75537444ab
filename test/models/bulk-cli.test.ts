/**
 * `npm run classify -- <folder>` (local/bulk): the real CLI, as a child process, on a folder built
 * from the repository's photos (nested copies, an image under a non-image name, one without an
 * extension, names a CSV must quote, hidden and text files it must skip, corrupt files it must
 * report), with the small embedded models. Every line is whole and valid, each corrupt file carries
 * its error code, CSV reads back, --resume does only what is missing, and Ctrl+C leaves a valid
 * file that --resume completes.
 */
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../lambda/src/adapters/config';
import { sniffImageFormat } from '../../lambda/src/core/image-format';
import { createService } from '../../lambda/src/service/create-service';
import { createApiHandler } from '../../lambda/src/transports/api-handler';
import { parseCsv } from '../../local/bulk/csv';
import { CSV_COLUMNS } from '../../local/bulk/lines';
import { FIXTURE_IMAGES, MALAMUTE_FAMILY, photo, REPO_ROOT, smallModelEnv } from '../support/fixtures';

const env = smallModelEnv();
const PHOTOS = [
  'astronaut.jpg',
  'cat_chelsea.png',
  'coffee_cup.webp',
  'dog.jpg',
  'dog_exif_orientation6.jpg',
  'eagle.jpg',
  'kite.jpg',
  'person.jpg',
];

/** Temporary folders of this file, removed at the end. */
const made: string[] = [];
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts the CLI (without the allocator wrapper: the signals then reach it directly). */
function start(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/cli.ts', ...args], {
    cwd: REPO_ROOT,
    env,
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const done = new Promise<Run>((resolve) =>
    child.on('close', (code) => {
      resolve({ code, ...out });
    }),
  );
  return { child, done };
}

const cli = (args: string[]) => start(args).done;

const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, any>);

/** Random-looking bytes that are no image (a hash chain: the same every run). */
function noise(size: number): Buffer {
  const parts: Buffer[] = [];
  let block = createHash('sha256').update('bulk-cli').digest();
  while (parts.length * 32 < size) {
    parts.push(block);
    block = createHash('sha256').update(block).digest();
  }
  const bytes = Buffer.concat(parts).subarray(0, size);
  expect(sniffImageFormat(bytes)).toBeNull();
  return bytes;
}

const COMMA_NAME = 'with, a comma and "quotes".jpg';
const NEWLINE_NAME = 'two\nlines.jpg';

/** The answered files (relative paths) and the corrupt ones with the code each must carry. */
const ANSWERED = [
  ...PHOTOS.slice(0, 3),
  `nested/${PHOTOS[3]}`,
  `nested/${PHOTOS[4]}`,
  `nested/deeper/${PHOTOS[5]}`,
  `nested/deeper/${PHOTOS[6]}`,
  `nested/deeper/${PHOTOS[7]}`,
  'nested/deeper/dog-saved-as.dat',
  'nested/cat-without-extension',
  COMMA_NAME,
  NEWLINE_NAME,
];
const CORRUPT: Record<string, string> = {
  'corrupt/truncated.jpg': 'UNPROCESSABLE_IMAGE',
  'corrupt/random-bytes.jpg': 'UNSUPPORTED_MEDIA_TYPE',
  'corrupt/empty.png': 'INVALID_REQUEST',
};

function buildFolder(): string {
  const root = tempDir('bulk-cli-');
  const put = (rel: string, bytes: Buffer | string) => {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), bytes);
  };
  ANSWERED.slice(0, 8).forEach((rel, i) => {
    put(rel, photo(PHOTOS[i]!));
  });
  put('nested/deeper/dog-saved-as.dat', photo('dog.jpg'));
  put('nested/cat-without-extension', photo('cat_chelsea.png'));
  put(COMMA_NAME, photo('eagle.jpg'));
  put(NEWLINE_NAME, photo('person.jpg'));
  const dog = photo('dog.jpg');
  put('corrupt/truncated.jpg', dog.subarray(0, dog.length / 2));
  put('corrupt/random-bytes.jpg', noise(3000));
  put('corrupt/empty.png', Buffer.alloc(0));
  // Never walked: not an image by name or content, or hidden.
  put('notes.txt', 'holiday photos, 2024\n');
  put('nested/README', 'not an image either\n');
  put('.hidden/dog.jpg', dog);
  put('.DS_Store', noise(64));
  return root;
}

let folder: string;
let scratch: string;
beforeAll(() => {
  folder = buildFolder();
  scratch = tempDir('bulk-cli-out-');
});
const outFile = (ext: string) => path.join(scratch, `${randomUUID()}.${ext}`);

it('writes one valid JSON line per image to stdout: answers, and each corrupt file with its code', async () => {
  const { code, stdout, stderr } = await cli([folder, '--top-k', '3']);
  expect(code).toBe(0);
  const lines = jsonLines(stdout);
  expect(lines.map((l) => l.path).sort()).toEqual([...ANSWERED, ...Object.keys(CORRUPT)].sort());
  const byPath = new Map(lines.map((l) => [l.path as string, l]));
  for (const rel of ANSWERED) {
    expect(byPath.get(rel)).toMatchObject({
      statusCode: 200,
      task: 'classification',
      model: 'mobilenetv2-12-int8',
    });
    expect(byPath.get(rel)!.predictions).toHaveLength(3);
  }
  for (const [rel, error] of Object.entries(CORRUPT)) {
    expect(byPath.get(rel)).toMatchObject({
      error,
      statusCode: expect.any(Number),
      message: expect.any(String),
    });
  }
  expect(MALAMUTE_FAMILY).toContain(byPath.get('nested/deeper/dog-saved-as.dat')!.label);
  // Walk order: names sorted, depth first.
  expect(lines.map((l) => l.path)).toEqual(
    [...lines.map((l) => l.path as string)].sort((a, b) => (a < b ? -1 : 1)),
  );
  // notes.txt and nested/README passed over; hidden entries not even counted.
  expect(stderr).toContain(`15 images under ${folder} (2 other files passed over).`);
  expect(stderr).toMatch(/Done: 15 images in [\d.]+ s \([\d.]+ images\/s\): 12 answered, 3 failed\./);
  expect(stderr).toContain('Errors: INVALID_REQUEST 1, UNPROCESSABLE_IMAGE 1, UNSUPPORTED_MEDIA_TYPE 1');
  expect(stderr).toMatch(/Labels: Alaskan Malamute 3,/);

  // A line is the HTTP batch answer's item for that photo (timings aside).
  const config = loadConfig(env);
  const service = createService(config);
  try {
    const api = createApiHandler(service, config);
    const response = await api({
      method: 'POST',
      path: '/classifier',
      query: { topK: '3' },
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ images: [{ image: photo('kite.jpg').toString('base64') }] })),
      requestId: 'test',
    });
    const [item] = (response.body as { results: Record<string, any>[] }).results;
    const { path: _p, timings: _t, ...line } = byPath.get('nested/deeper/kite.jpg')!;
    const { timings: _u, ...expected } = item!;
    expect(line).toEqual(expected);
  } finally {
    await service.close();
  }
}, 60_000);

it('--format csv (from the .csv name) writes RFC 4180 rows that read back to the same answers', async () => {
  const out = outFile('csv');
  const { code } = await cli([folder, '--out', out, '--task', 'detect']);
  expect(code).toBe(0);
  const [header, ...rows] = parseCsv(readFileSync(out, 'utf8'));
  expect(header).toEqual([...CSV_COLUMNS]);
  const byPath = new Map(
    rows.map((r) => [
      r[0]!,
      Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, r[i]!])) as Record<
        (typeof CSV_COLUMNS)[number],
        string
      >,
    ]),
  );
  expect([...byPath.keys()].sort()).toEqual([...ANSWERED, ...Object.keys(CORRUPT)].sort());
  expect(byPath.get(NEWLINE_NAME)).toMatchObject({ status: '200', model: 'yolox-nano', label: 'person' });
  expect(byPath.get(COMMA_NAME)).toMatchObject({ status: '200', label: 'bird' });
  const kite = byPath.get('nested/deeper/kite.jpg')!;
  expect(Number(kite.count)).toBeGreaterThan(3);
  expect(kite.predictions.split(';')).toHaveLength(Number(kite.count));
  expect(kite.predictions).toMatch(/^(\w[\w ]*:[\d.]+@[\d.]+,[\d.]+,[\d.]+,[\d.]+;?)+$/);
  for (const [rel, error] of Object.entries(CORRUPT)) {
    expect(byPath.get(rel)).toMatchObject({ error, label: '', count: '' });
  }
}, 60_000);

it('--resume does only the images not yet in the file; an existing file needs --resume or --force', async () => {
  const root = tempDir('bulk-resume-');
  PHOTOS.slice(0, 3).forEach((f) => {
    copyFileSync(path.join(FIXTURE_IMAGES, f), path.join(root, f));
  });
  const out = outFile('jsonl');
  expect((await cli([root, '--out', out])).code).toBe(0);
  expect(jsonLines(readFileSync(out, 'utf8'))).toHaveLength(3);

  const refused = await cli([root, '--out', out]);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('--resume');

  PHOTOS.slice(3).forEach((f) => {
    copyFileSync(path.join(FIXTURE_IMAGES, f), path.join(root, f));
  });
  const resumed = await cli([root, '--out', out, '--resume']);
  expect(resumed.code).toBe(0);
  expect(resumed.stderr).toContain(`3 of ${PHOTOS.length} images are already in`);
  expect(resumed.stderr).toMatch(new RegExp(`Done: ${PHOTOS.length - 3} images`));
  const paths = jsonLines(readFileSync(out, 'utf8')).map((l) => l.path);
  expect(paths).toEqual([...PHOTOS.slice(0, 3), ...PHOTOS.slice(3)]);

  const again = await cli([root, '--out', out, '--resume']);
  expect([again.code, jsonLines(readFileSync(out, 'utf8'))]).toEqual([0, expect.any(Array)]);
  expect(again.stderr).toContain('already in');
  expect(jsonLines(readFileSync(out, 'utf8'))).toHaveLength(PHOTOS.length);
}, 60_000);

it('Ctrl+C leaves only whole, valid lines and exits 130; --resume then completes the file', async () => {
  const root = tempDir('bulk-interrupt-');
  const small = PHOTOS.filter((f) => f !== 'kite.jpg');
  const copies: string[] = [];
  for (let i = 0; copies.length < 300; i++) {
    const rel = `copy${String(i).padStart(3, '0')}-${small[i % small.length]!}`;
    copyFileSync(path.join(FIXTURE_IMAGES, small[i % small.length]!), path.join(root, rel));
    copies.push(rel);
  }
  const out = outFile('jsonl');
  const run = start([root, '--out', out]);
  // As soon as the first lines are in the file.
  const deadline = Date.now() + 40_000;
  while (!(existsSync(out) && readFileSync(out, 'utf8').includes('\n')) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  run.child.kill('SIGINT');
  const stopped = await run.done;
  expect(stopped.code).toBe(130);
  expect(stopped.stderr).toMatch(/Interrupted after \d+ of 300 images/);
  const text = readFileSync(out, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  const first = jsonLines(text);
  expect(first.length).toBeGreaterThan(0);
  expect(first.length).toBeLessThan(300);
  expect(first.every((l) => l.statusCode === 200)).toBe(true);

  const resumed = await cli([root, '--out', out, '--resume']);
  expect(resumed.code).toBe(0);
  const paths = jsonLines(readFileSync(out, 'utf8')).map((l) => l.path as string);
  expect(paths).toHaveLength(300);
  expect(new Set(paths).size).toBe(300);
  expect([...paths].sort()).toEqual(copies);
}, 60_000);

it('exits 1 when nothing could be processed: no images, or every one failed', async () => {
  const empty = tempDir('bulk-empty-');
  writeFileSync(path.join(empty, 'notes.txt'), 'no photos here\n');
  const none = await cli([empty]);
  expect([none.code, none.stdout]).toEqual([1, '']);
  expect(none.stderr).toContain('No images under');

  const broken = await cli([path.join(folder, 'corrupt')]);
  expect(broken.code).toBe(1);
  expect(jsonLines(broken.stdout).map((l) => l.error)).toEqual([
    'INVALID_REQUEST',
    'UNSUPPORTED_MEDIA_TYPE',
    'UNPROCESSABLE_IMAGE',
  ]);
}, 60_000);

it('a bad option is a usage error (2) with the code and message the HTTP route gives', async () => {
  const { code, stderr, stdout } = await cli([folder, '--top-k', '0']);
  expect([code, stdout]).toEqual([2, '']);
  const config = loadConfig(env);
  const service = createService(config);
  const fromApi = await createApiHandler(
    service,
    config,
  )({
    method: 'POST',
    path: '/classifier',
    query: { topK: '0' },
    headers: { 'content-type': 'image/jpeg' },
    body: photo('dog.jpg'),
    requestId: 'test',
  });
  await service.close();
  const { requestId: _r, ...fromCli } = JSON.parse(stderr.trim());
  const { requestId: _s, ...expected } = fromApi.body as Record<string, unknown>;
  expect(fromCli).toEqual(expected);
  expect(expected).toMatchObject({ statusCode: 400, error: 'INVALID_PARAMETER' });
  const wrongTask = await cli([folder, '--model', 'yolox-nano']);
  expect(wrongTask.code).toBe(2);
  expect(wrongTask.stderr).toContain("Model 'yolox-nano' does detection, not classification.");
  expect((await cli([folder, path.join(FIXTURE_IMAGES, 'dog.jpg')])).code).toBe(2);
  expect((await cli([path.join(FIXTURE_IMAGES, 'dog.jpg'), '--out', outFile('jsonl')])).code).toBe(2);
}, 60_000);

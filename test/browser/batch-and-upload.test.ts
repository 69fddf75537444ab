/**
 * The page with several images and with photos too large for a request body, in Debian chromium
 * against the real local server, the real small models and a real S3 API (s3rver on 127.0.0.1,
 * behind a gate that checks SigV4 signatures as S3 does): no mocks. Screenshots go to
 * test-artifacts/browser/.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HeadObjectCommand, PutBucketCorsCommand } from '@aws-sdk/client-s3';
import type { Browser, Page, Request } from 'playwright-core';
import { launchChromium } from '../support/chromium';
import sharp from 'sharp';
import { CONTENT_SECURITY_POLICY, startLocalServer, type LocalServer } from '../../local/server';
import { FIXTURE_IMAGES as IMAGES, MALAMUTE_FAMILY, smallModelEnv } from '../support/fixtures';
import {
  startLocalS3,
  startSigV4Gate,
  useS3rverEnv,
  type LocalS3,
  type SigV4Gate,
} from '../support/s3-local';

jest.setTimeout(90_000);

const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts/browser');
const BUCKET = 'page-uploads';
let dir: string;
let s3: LocalS3;
/**
 * In front of s3rver: checks every signed request's SigV4 signature as S3 does (CORS preflights
 * pass unsigned, as S3 answers them); the endpoint the server presigns for and the page PUTs to.
 */
let gate: SigV4Gate;
/** With an upload bucket on the local S3 server. */
let withUploads: LocalServer;
/** Without one: POST /uploads answers 501 UPLOADS_UNAVAILABLE. */
let withoutUploads: LocalServer;
let browser: Browser;
/** A 2304×1728 uncompressed TIFF of dog.jpg (about 12 MB): Chromium cannot decode TIFF. */
let bigTiff: string;
let problems: string[] = [];

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'page-uploads-'));
  // The server's S3 client takes its credentials and region from the environment.
  useS3rverEnv();
  s3 = await startLocalS3(path.join(dir, 's3'), BUCKET);
  gate = await startSigV4Gate(s3.port);
  const quiet = { POWERTOOLS_LOG_LEVEL: 'WARN', POWERTOOLS_METRICS_DISABLED: 'true' };
  const env = smallModelEnv(quiet);
  delete env.UPLOAD_BUCKET;
  delete env.UPLOAD_S3_ENDPOINT;
  [withUploads, withoutUploads, browser] = await Promise.all([
    startLocalServer({
      port: 0,
      host: '127.0.0.1',
      env: { ...env, UPLOAD_BUCKET: BUCKET, UPLOAD_S3_ENDPOINT: gate.endpoint },
    }),
    startLocalServer({ port: 0, host: '127.0.0.1', env }),
    launchChromium(),
  ]);
  // The deployed upload bucket's rule (lib/upload-bucket.ts): PUT from the page's origin only, with
  // the two headers the signature binds.
  await s3.client.send(
    new PutBucketCorsCommand({
      Bucket: BUCKET,
      CORSConfiguration: {
        CORSRules: [
          {
            AllowedOrigins: [withUploads.url],
            AllowedMethods: ['PUT'],
            AllowedHeaders: ['Content-Type', 'Content-Length'],
          },
        ],
      },
    }),
  );
  bigTiff = path.join(dir, 'dog-large.tif');
  await sharp(path.join(IMAGES, 'dog.jpg')).resize(2304, 1728).tiff({ compression: 'none' }).toFile(bigTiff);
});

afterAll(async () => {
  await browser.close();
  await Promise.all([withUploads.close(), withoutUploads.close()]);
  await gate.close();
  await s3.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

afterEach(async () => {
  await Promise.all(browser.contexts().map((c) => c.close()));
  const found = problems;
  problems = [];
  expect(found).toEqual([]);
});

/** The page of `server`, with its model list loaded; `expected` statuses may be logged as errors. */
async function openPage(server: LocalServer, expected: number[] = []): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    const text = m.text();
    // The optional config.json is a 404; anything else logged as an error (a CSP violation, a
    // script error, a refused upload) fails the test.
    const status = /^Failed to load resource: the server responded with a status of (\d+)\b/.exec(text)?.[1];
    const fine = status !== undefined && [404, ...expected].includes(Number(status));
    if ((m.type() === 'error' && !fine) || /Content Security Policy/i.test(text))
      problems.push(`console ${m.type()}: ${text}`);
  });
  await page.goto(server.url + '/');
  await page.waitForFunction(() => (document.getElementById('model') as HTMLSelectElement).value !== '');
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

function isPost(request: Request, route: string): boolean {
  return request.method() === 'POST' && new URL(request.url()).pathname === `/${route}`;
}

/** Text as the user reads it (the page keeps some phrases together with no-break spaces). */
async function textOf(page: Page, selector: string): Promise<string> {
  return ((await page.textContent(selector)) ?? '').replace(/\u00a0/g, ' ');
}

/** Drops files on the drop zone as a user dragging them from a file manager would. */
async function dropFiles(page: Page, files: { name: string; type: string; bytes: Buffer }[]): Promise<void> {
  await page.evaluate(
    (list) => {
      const data = new DataTransfer();
      for (const f of list) {
        const bytes = Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0));
        data.items.add(new File([bytes], f.name, { type: f.type }));
      }
      document
        .getElementById('dropzone')!
        .dispatchEvent(new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: data }));
    },
    files.map((f) => ({ name: f.name, type: f.type, base64: f.bytes.toString('base64') })),
  );
}

/** Every text the line under Send shows from now on (the upload's progress goes there). */
async function recordSendHints(page: Page): Promise<() => Promise<string[]>> {
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { sendHints: string[] }).sendHints = seen;
    const hint = document.getElementById('send-hint')!;
    new MutationObserver(() => seen.push(hint.textContent)).observe(hint, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  });
  return () => page.evaluate(() => (window as unknown as { sendHints: string[] }).sendHints);
}

test('several dropped files go in one multipart request; each image shows its own result or its own error', async () => {
  const page = await openPage(withoutUploads);
  const bodies: { type: string; body: Buffer }[] = [];
  await page.route(
    (url) => url.pathname === '/classifier' || url.pathname === '/detector',
    async (r) => {
      const req = r.request();
      bodies.push({
        type: (await req.headerValue('content-type')) ?? '',
        body: req.postDataBuffer() ?? Buffer.alloc(0),
      });
      await r.continue();
    },
  );
  await dropFiles(page, [
    { name: 'dog.jpg', type: 'image/jpeg', bytes: fs.readFileSync(path.join(IMAGES, 'dog.jpg')) },
    { name: 'notes.txt', type: 'text/plain', bytes: Buffer.from('This is not a photo.\n') },
    {
      name: 'cat_chelsea.png',
      type: 'image/png',
      bytes: fs.readFileSync(path.join(IMAGES, 'cat_chelsea.png')),
    },
  ]);
  await page.locator('#send:enabled').waitFor();
  expect(await page.textContent('#send')).toBe('Send 3 images');
  expect(await page.locator('#selection li').allTextContents()).toEqual([
    expect.stringContaining('dog.jpg'),
    expect.stringContaining('notes.txt'),
    expect.stringContaining('cat_chelsea.png'),
  ]);
  expect(await page.isVisible('#preview')).toBe(false);
  expect(await textOf(page, '#size-original')).toContain('3 files');
  await shot(page, '6-batch-chosen');

  const response = page.waitForResponse((r) => isPost(r.request(), 'classifier'));
  await page.click('#send');
  const answer = await response;
  expect(answer.status()).toBe(200);
  const batch = (await answer.json()) as { results: { statusCode: number; error?: string }[] };
  expect(batch.results.map((r) => r.statusCode)).toEqual([200, 415, 200]);
  expect(batch.results[1]!.error).toBe('UNSUPPORTED_MEDIA_TYPE');
  // One request, a form with the three files, in order.
  expect(bodies).toHaveLength(1);
  expect(bodies[0]!.type).toMatch(/^multipart\/form-data; boundary=/);
  const names = [...bodies[0]!.body.toString('latin1').matchAll(/filename="([^"]+)"/g)].map((m) => m[1]);
  expect(names).toEqual(['dog.jpg', 'notes.txt', 'cat_chelsea.png']);

  await page.locator('#batch').waitFor();
  const rows = page.locator('#batch-list > li');
  await expect(rows.count()).resolves.toBe(3);
  const dog = (await rows.nth(0).textContent())!;
  expect(MALAMUTE_FAMILY.some((label) => dog.includes(label))).toBe(true);
  expect(await rows.nth(0).locator('img.thumb').count()).toBe(1);
  // ImageNet 281 tabby, 282 tiger cat, 285 Egyptian cat (test/fixtures/images/EXPECTED.md), short names.
  const cat = (await rows.nth(2).textContent())!;
  expect(['tabby cat', 'tiger cat', 'Egyptian Mau'].some((label) => cat.includes(label))).toBe(true);
  const bad = rows.nth(1);
  expect(await bad.getAttribute('class')).toContain('is-error');
  const badText = (await bad.textContent())!;
  expect(badText).toContain('notes.txt');
  expect(badText).toContain('That file is not a supported image');
  expect(badText).toContain('Choose a JPEG, PNG, WebP, GIF, AVIF or TIFF image.');
  expect(badText).not.toContain('UNSUPPORTED_MEDIA_TYPE');
  expect(await textOf(page, '#batch-summary')).toBe(
    '3 images: 2 answered, 1 not (the reason is under each one).',
  );
  // No alert: one bad image does not fail the others.
  expect(await page.isVisible('#error')).toBe(false);
  expect(await page.getAttribute('#results', 'aria-live')).toBe('polite');
  expect(await textOf(page, '#timings')).toMatch(/round trip \d+ ms · 1 request · model mobilenetv2-12-int8/);
  await shot(page, '6-batch-classified');

  // The same images for detection: the dog photo's objects are named, still one request.
  await page.check('#task-detect');
  const detected = page.waitForResponse((r) => isPost(r.request(), 'detector'));
  await page.click('#send');
  expect((await detected).status()).toBe(200);
  await page.locator('#batch-list > li >> nth=0').filter({ hasText: 'object' }).waitFor();
  const objects = (await rows.nth(0).textContent())!;
  expect(objects).toMatch(/\d+ objects?: .*dog/);
  expect(objects).toContain('bicycle');
  expect(await rows.nth(1).textContent()).toContain('That file is not a supported image');
  expect(bodies).toHaveLength(2);
  await shot(page, '6-batch-detected');
});

test('images are packed into requests of at most 16 files and 4.4 MB; one too large on its own is uploaded', async () => {
  const page = await openPage(withoutUploads);
  // The page's own module, imported by the page (a string: the test's compiler would turn an
  // import() in a function into require()).
  type Plan = { groups: number[][]; large: number[] };
  const plan = await page.evaluate<
    Record<'small' | 'big', Plan>
  >(`import('/batch.js').then(({ planBatch }) => ({
    small: planBatch(Array.from({ length: 20 }, () => 100000)),
    big: planBatch([1500000, 1500000, 1500000, 12000000, 900000]),
  }))`);
  expect(plan.small.groups.map((g) => g.length)).toEqual([16, 4]);
  expect(plan.small.large).toEqual([]);
  expect(plan.big).toEqual({
    groups: [
      [0, 1],
      [2, 4],
    ],
    large: [3],
  });
});

test('a photo the browser cannot make small enough (a 12 MB TIFF) goes through POST /uploads, a PUT to S3 and {"s3": {"key"}}', async () => {
  const size = fs.statSync(bigTiff).size;
  expect(size).toBeGreaterThan(4_500_000);
  const page = await openPage(withUploads);
  const policy = (await page.request.get(withUploads.url + '/')).headers()['content-security-policy'];
  expect(policy).toBe(
    CONTENT_SECURITY_POLICY.replace("connect-src 'self'", `connect-src 'self' ${gate.endpoint}`),
  );

  const requests: Request[] = [];
  page.on('request', (r) => requests.push(r));
  await page.setInputFiles('#file', bigTiff);
  await page.locator('#send:enabled').waitFor();
  // Chromium cannot show a TIFF, so it is sent as it is: too large for a request body.
  expect(await page.isVisible('#no-preview')).toBe(true);
  expect(await textOf(page, '#size-sent')).toContain('too large for one request, so it is uploaded first');
  const hints = await recordSendHints(page);

  const answered = page.waitForResponse((r) => isPost(r.request(), 'classifier'));
  await page.click('#send');
  const answer = await answered;
  expect(answer.status()).toBe(200);
  await page.locator('#classification').waitFor();
  expect(MALAMUTE_FAMILY).toContain(await page.textContent('#top-label'));
  expect(await textOf(page, '#timings')).toContain('server saw 2304×1728 tiff');

  // The three steps, in order: the ticket, the PUT to the storage's origin, the key.
  const steps = requests
    .filter((r) => r.method() !== 'GET' && r.method() !== 'OPTIONS')
    .map(
      (r) => `${r.method()} ${new URL(r.url()).origin === gate.endpoint ? 'S3' : new URL(r.url()).pathname}`,
    );
  expect(steps).toEqual(['POST /uploads', 'PUT S3', 'POST /classifier']);
  const ticketRequest = requests.find((r) => isPost(r, 'uploads'))!;
  expect(ticketRequest.postDataJSON()).toEqual({ contentType: 'image/tiff', size });
  const ticket = (await (await ticketRequest.response())!.json()) as { s3: { key: string } };
  const put = requests.find((r) => r.method() === 'PUT')!;
  expect((await put.response())!.status()).toBe(200);
  expect(await put.headerValue('content-type')).toBe('image/tiff');
  // The PUT carried exactly what the URL signs: S3 (here the gate) checked its signature.
  const signed = gate.requests.filter((r) => r.method === 'PUT');
  expect(signed).toEqual([
    expect.objectContaining({
      auth: 'presigned',
      verdict: 'ok',
      signedHeaders: ['content-length', 'content-type', 'host'],
    }),
  ]);
  expect(answer.request().postDataJSON()).toEqual({ s3: { key: ticket.s3.key } });
  const stored = await s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: ticket.s3.key }));
  expect(stored.ContentLength).toBe(size);

  const shown = await hints();
  expect(shown.some((h) => h.startsWith('Uploading…'))).toBe(true);
  expect(shown).toContain('Uploaded; waiting for the server…');
  expect(await page.textContent('#send-hint')).toBe('Ready: names what is in the image.');
  await shot(page, '7-uploaded-classified');
});

test('without an upload bucket, the 501 from POST /uploads is shown as a clear message', async () => {
  const page = await openPage(withoutUploads, [501]);
  // No upload endpoint: the page may talk to its own origin only.
  const policy = (await page.request.get(withoutUploads.url + '/')).headers()['content-security-policy'];
  expect(policy).toBe(CONTENT_SECURITY_POLICY);
  const posts: string[] = [];
  page.on('request', (r) => {
    if (r.method() === 'POST') posts.push(new URL(r.url()).pathname);
  });
  await page.setInputFiles('#file', bigTiff);
  await page.locator('#send:enabled').waitFor();
  const response = page.waitForResponse((r) => isPost(r.request(), 'uploads'));
  await page.click('#send');
  const answer = await response;
  expect(answer.status()).toBe(501);
  expect(((await answer.json()) as { error: string }).error).toBe('UPLOADS_UNAVAILABLE');

  const alert = page.getByRole('alert');
  await alert.waitFor();
  const shown = (await alert.textContent())!;
  expect(shown).toContain('Large photos cannot be uploaded here');
  expect(shown).toContain('This server has no upload storage: try a smaller photo.');
  expect(shown).toMatch(/Reference: \S+/);
  expect(shown).not.toContain('UPLOADS_UNAVAILABLE');
  expect(posts).toEqual(['/uploads']);
  await shot(page, '7-uploads-unavailable');
});

test('a PNG within 1600 px but over the body limit is converted to JPEG in the browser, not uploaded', async () => {
  const raw = { width: 1600, height: 1200, channels: 3 } as const;
  const png = await sharp(randomBytes(raw.width * raw.height * 3), { raw })
    .png()
    .toBuffer();
  expect(png.length).toBeGreaterThan(4_500_000);
  const page = await openPage(withoutUploads);
  const posts: string[] = [];
  page.on('request', (r) => {
    if (r.method() === 'POST') posts.push(new URL(r.url()).pathname);
  });
  await page.setInputFiles('#file', { name: 'noise.png', mimeType: 'image/png', buffer: png });
  await page.locator('#send:enabled').waitFor();
  expect(await textOf(page, '#size-sent')).toMatch(
    /^1,600 × 1,200 px, .* JPEG — converted to JPEG in your browser$/,
  );
  await page.click('#send');
  await page.locator('#classification').waitFor();
  expect(posts).toEqual(['/classifier']);
});

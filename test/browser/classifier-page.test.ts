/**
 * The web page (web/classifier.html) in Debian chromium against the real local server and the real
 * models in models/embedded: no mocks. Screenshots of each state go to test-artifacts/browser/.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContextOptions, Page, Request } from 'playwright-core';
import { launchChromium } from '../support/chromium';
import sharp from 'sharp';
import { startLocalServer, type LocalServer } from '../../local/server';
import { EMBEDDED_MODELS as MODELS, FIXTURE_IMAGES as IMAGES, MALAMUTE_FAMILY } from '../support/fixtures';

jest.setTimeout(60_000);

const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts/browser');
const DOG = path.join(IMAGES, 'dog.jpg');
let server: LocalServer;
let browser: Browser;
/** Console messages of every page, checked for CSP violations and script errors after each test. */
let problems: string[] = [];

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  // Keep the server's per-request logs and metrics out of the test output (as `npm start` does).
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  [server, browser] = await Promise.all([
    startLocalServer({
      port: 0,
      host: '127.0.0.1',
      env: {
        ...process.env,
        MODEL_PATH: MODELS,
        DEFAULT_CLASSIFIER: 'mobilenetv2-12-int8',
        DEFAULT_DETECTOR: 'yolox-nano',
        PRELOAD_MODELS: '',
      },
    }),
    launchChromium(),
  ]);
});

afterAll(async () => {
  await browser.close();
  await server.close();
});

afterEach(async () => {
  await Promise.all(browser.contexts().map((c) => c.close()));
  expect(problems).toEqual([]);
  problems = [];
});

async function openPage(
  options: BrowserContextOptions = { viewport: { width: 1280, height: 900 } },
): Promise<Page> {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    const text = m.text();
    // Expected: the 404 for the optional config.json and the 415 of the text-file test. Anything
    // else logged as an error (a CSP violation, a script error) fails the test.
    const expected = /^Failed to load resource: the server responded with a status of (404|415)\b/;
    if ((m.type() === 'error' && !expected.test(text)) || /Content Security Policy/i.test(text))
      problems.push(`console ${m.type()}: ${text}`);
  });
  // Intercept file choosers from the start: Playwright turns interception on asynchronously when
  // the first listener appears, and a key press right after `waitForEvent('filechooser')` can beat
  // it (the page then opens a dialog nobody sees and the event never comes).
  page.on('filechooser', () => undefined);
  await page.goto(server.url + '/');
  // The model list has arrived and the default classifier is selected.
  await page.waitForFunction(() => (document.getElementById('model') as HTMLSelectElement).value !== '');
  return page;
}

/**
 * Full-page shots re-emulate the device for the capture, which drops focus rings and touch media
 * queries; the phone test takes viewport shots where those matter.
 */
async function shot(page: Page, name: string, fullPage = true): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage });
}

async function chooseFile(page: Page, file: Parameters<Page['setInputFiles']>[1]): Promise<void> {
  await page.setInputFiles('#file', file);
  await page.locator('#send:enabled').waitFor();
}

function isApiPost(request: Request, route: string): boolean {
  return request.method() === 'POST' && new URL(request.url()).pathname === `/${route}`;
}

/**
 * The bytes the page uploads. Chromium does not report blob bodies in request events, but an
 * intercepted request has them; the request then goes on to the real server unchanged.
 */
async function captureUploads(page: Page, route: string): Promise<Buffer[]> {
  const bodies: Buffer[] = [];
  await page.route(
    (url) => url.pathname === `/${route}`,
    async (r) => {
      if (r.request().method() === 'POST') bodies.push(r.request().postDataBuffer() ?? Buffer.alloc(0));
      await r.continue();
    },
  );
  return bodies;
}

/**
 * A 4000x3000 "photo" of several MB: a smooth gradient with grain, so it does not compress to
 * nothing. Made by sharp alone (a per-pixel JavaScript loop is very slow inside Jest's sandbox).
 */
async function twelveMegapixelJpeg(): Promise<Buffer> {
  const raw = { width: 4000, height: 3000, channels: 3 } as const;
  const corners = Buffer.from([30, 58, 138, 245, 158, 11, 16, 185, 129, 220, 38, 38]);
  const gradient = await sharp(corners, { raw: { width: 2, height: 2, channels: 3 } })
    .resize(raw.width, raw.height, { kernel: 'linear' })
    .raw()
    .toBuffer();
  const grain = await sharp(randomBytes(raw.width * raw.height * 3), { raw })
    .linear(0.25, 96)
    .raw()
    .toBuffer();
  return sharp(gradient, { raw })
    .composite([{ input: grain, raw, blend: 'overlay' }])
    .jpeg({ quality: 92 })
    .toBuffer();
}

/** Text as the user reads it (the page keeps some phrases together with no-break spaces). */
async function textOf(page: Page, selector: string): Promise<string> {
  return ((await page.textContent(selector)) ?? '').replace(/\u00a0/g, ' ');
}

test('classifies dog.jpg and shows the top-5 labels with probability bars', async () => {
  const page = await openPage();
  await shot(page, '0-initial');
  expect(await page.inputValue('#model')).toBe('mobilenetv2-12-int8');

  await chooseFile(page, DOG);
  await expect(page.locator('#preview-image').isVisible()).resolves.toBe(true);
  expect(await textOf(page, '#size-original')).toContain('768 × 576 px');
  expect(await textOf(page, '#size-sent')).toContain('unchanged');

  const response = page.waitForResponse((r) => isApiPost(r.request(), 'classifier'));
  await page.click('#send');
  const request = (await response).request();
  expect(new URL(request.url()).searchParams.get('model')).toBe('mobilenetv2-12-int8');
  expect(new URL(request.url()).searchParams.get('topK')).toBe('5');
  expect(await request.headerValue('content-type')).toBe('image/jpeg');

  await page.locator('#classification').waitFor();
  const top = (await page.textContent('#top-label'))!;
  expect(['Alaskan Malamute', 'husky', 'Siberian Husky']).toContain(top);
  const labels = await page.locator('.prediction-label').allTextContents();
  expect(labels).toHaveLength(5);
  expect(labels.filter((l) => /malamute|husky/i.test(l)).length).toBeGreaterThanOrEqual(2);

  // The bars are drawn, and the first one is the longest (probabilities are sorted).
  const widths = await page
    .locator('.bar-fill')
    .evaluateAll((fills) => fills.map((f) => f.getBoundingClientRect().width));
  const track = (await page.locator('.bar').first().boundingBox())!.width;
  expect(widths).toHaveLength(5);
  expect(widths[0]!).toBeGreaterThan(track * 0.4);
  expect([...widths].sort((a, b) => b - a)).toEqual(widths);
  expect(await textOf(page, '#timings')).toMatch(/inference\s[\d.]+\sms/);
  await shot(page, '1-classified');
});

/**
 * The real server's JSON answer to the page's next request on `route`, read on the way (a response
 * event's body can be gone from Chromium's cache by the time the test asks for it). One request
 * only: a form's file parts do not survive the interception, so batches are not intercepted.
 */
async function captureNextAnswer(page: Page, route: string): Promise<{ json?: unknown }> {
  const answer: { json?: unknown } = {};
  await page.route(
    (url) => url.pathname === `/${route}`,
    async (r) => {
      const res = await r.fetch();
      answer.json = await res.json();
      await r.fulfill({ response: res });
    },
    { times: 1 },
  );
  return answer;
}

interface SummaryAnswer {
  summary?: { label: string; wnid: string; probability: number; path: string[] } | null;
}

test('under the top label, a summary line says what kind of thing it is, with its WordNet path; also per image of several; detection has none', async () => {
  const page = await openPage();
  const classified = await captureNextAnswer(page, 'classifier');
  await chooseFile(page, DOG);
  await page.click('#send');
  await page.locator('#classification').waitFor();
  const answer = classified.json as SummaryAnswer;
  expect(answer.summary?.label).toBe('sled dog');

  // "A kind of: sled dog (80%)", between the top label and the list of predictions.
  await page.locator('#top-summary').waitFor();
  expect(await textOf(page, '#top-summary .kind-line')).toMatch(/^A kind of: sled dog \(\d+%\)$/);
  expect(await page.textContent('#top-summary b')).toBe('sled dog');
  const breadcrumb = page.getByRole('list', { name: 'Where it sits in WordNet' });
  const steps = await breadcrumb.getByRole('listitem').allTextContents();
  expect(steps).toEqual(answer.summary!.path);
  expect(steps).toContain('dog');
  expect(steps.at(-1)).toBe('sled dog');
  const [label, summary, predictions] = await Promise.all(
    ['.top-label', '#top-summary', '#predictions'].map(async (s) => (await page.locator(s).boundingBox())!),
  );
  expect(summary!.y).toBeGreaterThanOrEqual(label!.y + label!.height);
  expect(predictions!.y).toBeGreaterThanOrEqual(summary!.y + summary!.height);
  await shot(page, '1-classified-summary');

  // The same photo detected: the answer has no summary, and the line is gone.
  const detected = await captureNextAnswer(page, 'detector');
  await page.check('#task-detect');
  await page.selectOption('#model', 'yolox-nano');
  await page.click('#send');
  await page.locator('#detection').waitFor();
  expect(detected.json).toHaveProperty('detections');
  expect(detected.json).not.toHaveProperty('summary');
  expect(await page.locator('#top-summary').isHidden()).toBe(true);
  expect(await page.locator('.kind-line, .kind-path').count()).toBe(0);

  // Several images, classified: each row has its own summary line.
  await page.setInputFiles('#file', [DOG, path.join(IMAGES, 'eagle.jpg')]);
  await page.locator('#send:enabled', { hasText: 'Send 2 images' }).waitFor();
  await page.click('label[for="task-classify"]');
  await page.click('#send');
  await page.locator('#batch').waitFor();
  const rows = page.locator('.batch-item');
  await expect(rows.count()).resolves.toBe(2);
  expect(await rows.nth(0).locator('.kind-line').textContent()).toMatch(/^A kind of: sled dog \(\d+%\)$/);
  expect(await rows.nth(1).locator('.kind-line').textContent()).toMatch(/^A kind of: eagle \(\d+%\)$/);
  expect(await rows.nth(0).locator('.kind-path li').allTextContents()).toContain('dog');
  await shot(page, '1-classified-summary-batch');

  // And detected: none.
  await page.check('#task-detect');
  await page.selectOption('#model', 'yolox-nano');
  await page.click('#send');
  await page.waitForFunction(() =>
    [...document.querySelectorAll('.batch-answer')].every((a) => /object/.test(a.textContent)),
  );
  expect(await page.locator('.kind-line, .kind-path').count()).toBe(0);
});

test('no summary line when no WordNet ancestor reaches summaryThreshold (summary null)', async () => {
  const page = await openPage();
  // The page sends no summaryThreshold; ask the real server for 1 on the way, so it answers null.
  let answered: SummaryAnswer = {};
  await page.route(
    (url) => url.pathname === '/classifier',
    async (r) => {
      const url = new URL(r.request().url());
      url.searchParams.set('summaryThreshold', '1');
      const res = await r.fetch({ url: url.toString() });
      answered = (await res.json()) as SummaryAnswer;
      await r.fulfill({ response: res });
    },
  );
  await chooseFile(page, DOG);
  await page.click('#send');
  await page.locator('#classification').waitFor();
  expect(answered.summary).toBeNull();
  expect(MALAMUTE_FAMILY).toContain(await page.textContent('#top-label'));
  expect(await page.locator('#top-summary').isHidden()).toBe(true);
  expect(await page.locator('.kind-line').count()).toBe(0);
});

test('a classification with nothing above minConfidence (label null) shows "Nothing above the threshold"', async () => {
  const page = await openPage();
  // The page sends no minConfidence; add one on the way so the real server answers label null.
  let answered: { label?: unknown; predictions?: unknown } = {};
  await page.route(
    (url) => url.pathname === '/classifier',
    async (r) => {
      const url = new URL(r.request().url());
      url.searchParams.set('minConfidence', '0.99');
      const res = await r.fetch({ url: url.toString() });
      answered = (await res.json()) as typeof answered;
      await r.fulfill({ response: res });
    },
  );
  await chooseFile(page, DOG);
  await page.click('#send');
  await page.locator('#classification').waitFor();
  expect(answered.label).toBeNull();
  expect(answered.predictions).toEqual([]);
  expect(await page.textContent('#top-label')).toBe('Nothing above the threshold');
  expect(await page.locator('.prediction-label').count()).toBe(0);
});

test('detects dog and bicycle on dog.jpg; the score slider filters boxes without a new request', async () => {
  const page = await openPage();
  const detectorPosts: Request[] = [];
  page.on('request', (r) => {
    if (isApiPost(r, 'detector')) detectorPosts.push(r);
  });
  await chooseFile(page, DOG);
  await page.check('#task-detect');
  await page.selectOption('#model', 'yolox-nano');

  const response = page.waitForResponse((r) => isApiPost(r.request(), 'detector'));
  await page.click('#send');
  const params = new URL((await response).url()).searchParams;
  expect(params.get('model')).toBe('yolox-nano');
  expect(params.get('minConfidence')).toBe('0.05');
  await page.locator('#detection').waitFor();

  expect(await page.inputValue('#threshold')).toBe('0.3');
  const tags = await page.locator('#overlay .box-label').allTextContents();
  expect(tags.some((t) => t.startsWith('dog '))).toBe(true);
  expect(tags.some((t) => t.startsWith('bicycle '))).toBe(true);

  // The dog's box sits where EXPECTED.md says it is ([133,207,326,543] in a 768x576 photo), at the
  // image's displayed size.
  const image = (await page.locator('#preview-image').boundingBox())!;
  const dog = (await page.locator('#overlay .box', { hasText: /^dog / }).first().boundingBox())!;
  const drawn = [
    (dog.x - image.x) / image.width,
    (dog.y - image.y) / image.height,
    (dog.x + dog.width - image.x) / image.width,
    (dog.y + dog.height - image.y) / image.height,
  ];
  const expected = [133 / 768, 207 / 576, 326 / 768, 543 / 576];
  drawn.forEach((v, i) => {
    expect(Math.abs(v - expected[i]!)).toBeLessThan(0.03);
  });
  await shot(page, '2-detected');

  await page.fill('#threshold', '0.9');
  await expect(page.locator('#overlay .box').count()).resolves.toBe(0);
  await expect(page.locator('#detections li').count()).resolves.toBe(0);
  expect(await page.textContent('#detection-summary')).toContain('0.90');
  await shot(page, '2-detected-threshold-0.9');

  await page.fill('#threshold', '0.3');
  await expect(page.locator('#overlay .box').count()).resolves.toBeGreaterThanOrEqual(2);
  expect(detectorPosts).toHaveLength(1);
});

test('dropping a file on the drop zone or pasting an image also chooses it', async () => {
  const page = await openPage();
  const put = (selector: string, file: string, type: string, how: 'drop' | 'paste') =>
    page.evaluate(
      ({ selector, name, base64, type, how }) => {
        const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const data = new DataTransfer();
        data.items.add(new File([bytes], name, { type }));
        const target = document.querySelector(selector)!;
        const init = { bubbles: true, cancelable: true };
        target.dispatchEvent(
          how === 'drop'
            ? new DragEvent('drop', { ...init, dataTransfer: data })
            : new ClipboardEvent('paste', { ...init, clipboardData: data }),
        );
      },
      { selector, name: path.basename(file), base64: fs.readFileSync(file).toString('base64'), type, how },
    );

  await put('#dropzone', path.join(IMAGES, 'eagle.jpg'), 'image/jpeg', 'drop');
  await page.locator('#send:enabled').waitFor();
  expect(await page.textContent('#preview-caption')).toBe('eagle.jpg');
  expect(await textOf(page, '#size-original')).toContain('773 × 512 px');

  await put('body', path.join(IMAGES, 'cat_chelsea.png'), 'image/png', 'paste');
  await page.waitForFunction(
    () => document.getElementById('preview-caption')!.textContent === 'cat_chelsea.png',
  );
  await page.locator('#send:enabled').waitFor();
  expect(await textOf(page, '#size-sent')).toContain('451 × 300 px');
  await page.click('#send');
  await page.locator('#classification').waitFor();
  // ImageNet 281 tabby, 282 tiger cat, 285 Egyptian cat (test/fixtures/images/EXPECTED.md), short names.
  expect(['tabby cat', 'tiger cat', 'Egyptian Mau']).toContain(await page.textContent('#top-label'));
  await shot(page, '1-pasted-cat');
});

test('a text file is sent as-is and the server’s 415 message is shown in an alert', async () => {
  const page = await openPage();
  const text = Buffer.from('This is not a photo.\n');
  const uploads = await captureUploads(page, 'classifier');
  await chooseFile(page, { name: 'notes.txt', mimeType: 'text/plain', buffer: text });
  await page.locator('#no-preview').waitFor();

  const response = page.waitForResponse((r) => isApiPost(r.request(), 'classifier'));
  await page.click('#send');
  const answer = await response;
  expect(answer.status()).toBe(415);
  expect(uploads).toEqual([text]);
  expect(await answer.request().headerValue('content-type')).toBe('text/plain');
  const body = (await answer.json()) as { error: string; message: string };
  expect(body.error).toBe('UNSUPPORTED_MEDIA_TYPE');

  const alert = page.getByRole('alert');
  await alert.waitFor();
  const shown = (await alert.textContent())!;
  expect(shown).toContain('That file is not a supported image');
  expect(shown).toContain(body.message);
  expect(shown).not.toContain('{');
  expect(shown).not.toContain('UNSUPPORTED_MEDIA_TYPE');
  await shot(page, '3-error-415');
});

test('a 12-megapixel photo is downscaled in the browser before it is sent', async () => {
  const big = await twelveMegapixelJpeg();
  expect(big.length).toBeGreaterThan(3_000_000);
  // From a file, not a buffer: the browser then reads it from disk instead of over the protocol.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'page-test-'));
  const file = path.join(dir, 'big-photo.jpg');
  fs.writeFileSync(file, big);
  const page = await openPage();
  const uploads = await captureUploads(page, 'classifier');
  await chooseFile(page, file);
  const fmt = (n: number) => n.toLocaleString('en-US');
  expect(await textOf(page, '#size-original')).toContain(`4,000 × 3,000 px`);
  expect(await textOf(page, '#size-original')).toContain(`${fmt(big.length)} bytes`);
  expect(await textOf(page, '#size-sent')).toContain('1,600 × 1,200 px');

  const responsePromise = page.waitForResponse((r) => isApiPost(r.request(), 'classifier'));
  await page.click('#send');
  const response = await responsePromise;
  expect(response.status()).toBe(200);
  const request = response.request();
  expect(uploads).toHaveLength(1);
  const sent = uploads[0]!;
  expect(sent.length).toBeGreaterThan(10_000);
  expect(sent.length).toBeLessThan(1_500_000);
  expect(await request.headerValue('content-type')).toBe('image/jpeg');
  const meta = await sharp(sent).metadata();
  expect(meta.format).toBe('jpeg');
  expect(Math.max(meta.width, meta.height)).toBe(1600);
  expect(meta.width / meta.height).toBeCloseTo(4 / 3, 2);
  expect(await textOf(page, '#size-sent')).toContain(`${fmt(sent.length)} bytes`);

  await page.locator('#classification').waitFor();
  expect(await textOf(page, '#timings')).toContain('server saw 1600×1200 jpeg');
  await shot(page, '4-downscaled');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('keyboard and phone width: Tab reaches the drop zone and Send with visible focus; no horizontal overflow at 375 px', async () => {
  // Reduced motion: the page then scrolls the boxes into view at once, not smoothly, before the shot.
  const page = await openPage({
    viewport: { width: 375, height: 812 },
    isMobile: true,
    hasTouch: true,
    reducedMotion: 'reduce',
  });

  const focusedId = () => page.evaluate(() => document.activeElement?.id ?? '');
  const outline = () =>
    page.evaluate(() => {
      const s = getComputedStyle(document.activeElement!);
      return { style: s.outlineStyle, width: parseFloat(s.outlineWidth) };
    });
  async function tabTo(id: string): Promise<void> {
    for (let i = 0; i < 20 && (await focusedId()) !== id; i++) await page.keyboard.press('Tab');
    expect(await focusedId()).toBe(id);
  }

  // Tab to the drop zone; Enter (and Space) open the file chooser.
  await tabTo('dropzone');
  expect(await outline()).toEqual({ style: 'solid', width: 3 });
  await shot(page, '5-phone-focus-dropzone', false);
  const [spaceChooser] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Space')]);
  // Several files may be chosen at once (they are answered in one request).
  expect(spaceChooser.isMultiple()).toBe(true);
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Enter')]);
  await chooser.setFiles(DOG);
  await page.locator('#send:enabled').waitFor();

  // Pick detection with the keyboard too (arrow keys move within the radio group), then Send.
  await tabTo('task-classify');
  await page.keyboard.press('ArrowRight');
  expect(await page.isChecked('#task-detect')).toBe(true);
  await tabTo('send');
  expect(await outline()).toEqual({ style: 'solid', width: 3 });
  await shot(page, '5-phone-focus-send', false);
  await page.keyboard.press('Enter');
  await page.locator('#detection').waitFor();
  await expect(page.locator('#overlay .box').count()).resolves.toBeGreaterThanOrEqual(2);

  // Focus stays on Send (a button disabled while busy would have dropped it), the boxes are
  // scrolled into view, and on a touch device the camera button is offered.
  expect(await focusedId()).toBe('send');
  await shot(page, '5-phone-detected', false);
  expect(await page.isVisible('#camera-button')).toBe(true);

  const widths = await page.evaluate(() => ({
    viewport: window.innerWidth,
    document: document.documentElement.scrollWidth,
    body: document.body.scrollWidth,
  }));
  expect(widths.viewport).toBe(375);
  expect(widths.document).toBeLessThanOrEqual(375);
  expect(widths.body).toBeLessThanOrEqual(375);

  // Text contrast (WCAG AA, 4.5:1) of the main kinds of text on their actual backgrounds.
  const ratios = await page.evaluate(() => {
    const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
    const lum = ([r, g, b]: number[]) => {
      const ch = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * ch(r!) + 0.7152 * ch(g!) + 0.0722 * ch(b!);
    };
    const background = (e: Element | null): string => {
      for (; e; e = e.parentElement) {
        const c = getComputedStyle(e).backgroundColor;
        const parts = rgb(c);
        if (parts.length === 3 || (parts.length === 4 && parts[3]! > 0.99)) return c;
      }
      return 'rgb(255, 255, 255)';
    };
    const result: Record<string, number> = {};
    for (const sel of [
      'h1',
      '.lede',
      '.dropzone-title',
      '.dropzone-hint',
      '.field-hint',
      '#send',
      '.segmented-hint',
      '.detection-score',
      '.timings',
      '.box-label',
    ]) {
      const e = document.querySelector(sel)!;
      const a = lum(rgb(getComputedStyle(e).color));
      const b = lum(rgb(background(e)));
      result[sel] = Math.round(((Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)) * 100) / 100;
    }
    return result;
  });
  for (const [selector, ratio] of Object.entries(ratios))
    expect([selector, ratio >= 4.5]).toEqual([selector, true]);
  await shot(page, '5-phone-full-page');
});

/**
 * The folder run's progress line and closing summary (local/bulk/progress.ts, summary.ts): what
 * they say for given counts and times, how often the reporter draws on a terminal and in a log, and
 * the counts by label, class and error code.
 */
import { formatDuration, formatProgress, ProgressReporter } from '../../local/bulk/progress';
import { BulkTally, formatSummary, ranked } from '../../local/bulk/summary';
import { hasImageExtension, isHidden } from '../../local/bulk/walk';

describe('formatProgress', () => {
  it('bar, done/total, percent, rate, ETA and failures', () => {
    expect(formatProgress({ done: 120, total: 1000, failed: 3, elapsedMs: 4000 })).toBe(
      '[###.....................]   120/1000  12%  30.0 img/s  ETA 0:29  (3 failed)',
    );
  });

  it('without the bar for plain lines, and no failures mentioned when there are none', () => {
    expect(formatProgress({ done: 50, total: 50, failed: 0, elapsedMs: 2000 }, false)).toBe(
      '50/50 100%  25.0 img/s  ETA 0:00',
    );
  });

  it('before the first image: no rate, an unknown ETA', () => {
    expect(formatProgress({ done: 0, total: 8, failed: 0, elapsedMs: 0 })).toBe(
      '[........................]  0/8   0%  0.0 img/s  ETA -:--',
    );
  });

  it('durations as m:ss, and h:mm:ss from an hour', () => {
    expect([
      formatDuration(0),
      formatDuration(59.6),
      formatDuration(61),
      formatDuration(3 * 3600 + 5),
    ]).toEqual(['0:00', '1:00', '1:01', '3:00:05']);
  });
});

/** A stream that keeps what is written, and a clock the test moves. */
function harness(isTTY: boolean, total: number) {
  const written: string[] = [];
  let now = 0;
  const reporter = new ProgressReporter(
    { isTTY, write: (t: string) => written.push(t) },
    total,
    isTTY,
    () => now,
  );
  return {
    written,
    reporter,
    at: (ms: number) => {
      now = ms;
    },
  };
}

describe('ProgressReporter', () => {
  it('on a terminal: redraws one line in place (\\r, clear to end), at most every 100 ms', () => {
    const { written, reporter, at } = harness(true, 100);
    written.length = 0;
    for (let ms = 10; ms <= 1000; ms += 10) {
      at(ms);
      reporter.update(ms / 10 - 1, 0);
    }
    expect(written.length).toBeGreaterThanOrEqual(9);
    expect(written.length).toBeLessThanOrEqual(11);
    expect(written.every((w) => w.startsWith('\r') && w.endsWith('\x1b[K') && !w.includes('\n'))).toBe(true);
    reporter.finish();
    expect(written.at(-1)).toBe('\n');
  });

  it('a message on a terminal clears the bar, prints its line, and draws the bar again', () => {
    const { written, reporter } = harness(true, 10);
    written.length = 0;
    reporter.log('SIGINT: stopping');
    expect(written[0]).toBe('\r\x1b[K');
    expect(written[1]).toBe('SIGINT: stopping\n');
    expect(written[2]).toMatch(/^\r\[/);
  });

  it('not a terminal: a plain line at every tenth of the work or every 5 s, nothing redrawn', () => {
    const { written, reporter, at } = harness(false, 1000);
    for (let done = 1; done <= 1000; done++) {
      at(done * 2); // 2 s in all: only the tenths print
      reporter.update(done, 0);
    }
    expect(written).toHaveLength(10);
    expect(written.every((w) => w.endsWith('\n') && !w.includes('\r') && !w.includes('['))).toBe(true);
    const slow = harness(false, 1000);
    for (let done = 1; done <= 50; done++) {
      slow.at(done * 1000); // 50 s for 5 %: a line every 5 s
      slow.reporter.update(done, 0);
    }
    expect(slow.written.length).toBeGreaterThanOrEqual(9);
    expect(slow.written.length).toBeLessThanOrEqual(11);
    slow.reporter.finish();
    expect(slow.written.at(-1)).toMatch(/^ *50\/1000/); // finish() adds nothing to a log
  });
});

const answer = (label: string | null) => ({ statusCode: 200, label, predictions: [] });
const detections = (...labels: string[]) => ({
  statusCode: 200,
  label: labels[0] ?? null,
  detections: labels.map((label) => ({ label })),
});
const error = (code: string) => ({ statusCode: 422, error: code, message: 'x' });

describe('BulkTally and formatSummary', () => {
  it('classify: images per top-1 label, unlabelled images, errors by code, throughput', () => {
    const tally = new BulkTally();
    for (const body of [
      answer('dog'),
      answer('cat'),
      answer('dog'),
      answer(null),
      error('UNPROCESSABLE_IMAGE'),
      error('UNSUPPORTED_MEDIA_TYPE'),
      error('UNPROCESSABLE_IMAGE'),
    ])
      tally.add(body);
    expect([tally.answered, tally.failed, tally.done, tally.unlabelled]).toEqual([4, 3, 7, 1]);
    expect(ranked(tally.labels)).toEqual([
      ['dog', 2],
      ['cat', 1],
    ]);
    expect(
      formatSummary(tally, { task: 'classify', total: 7, elapsedMs: 3500, skipped: 2, interrupted: false }),
    ).toEqual([
      'Done: 7 images in 3.5 s (2.0 images/s): 4 answered, 3 failed.',
      'Labels: dog 2, cat 1',
      'No label (below min-confidence): 1 image',
      'Errors: UNPROCESSABLE_IMAGE 2, UNSUPPORTED_MEDIA_TYPE 1',
      'Skipped 2 images already in the output (--resume).',
    ]);
  });

  it('detect: detections per class and the images holding each; images with none', () => {
    const tally = new BulkTally();
    for (const body of [detections('person', 'person', 'kite'), detections('person'), detections()])
      tally.add(body);
    expect(
      formatSummary(tally, { task: 'detect', total: 10, elapsedMs: 1000, skipped: 0, interrupted: true }),
    ).toEqual([
      'Interrupted after 3 of 10 images in 1.0 s (3.0 images/s): 3 answered, 0 failed.',
      'Classes: person 3 (2 images), kite 1 (1 image)',
      'No detection: 1 image',
    ]);
  });

  it('names the ten most frequent labels and counts the rest', () => {
    const tally = new BulkTally();
    for (let i = 0; i < 12; i++)
      for (let n = 0; n <= i; n++) tally.add(answer(`label${String(i).padStart(2, '0')}`));
    const [, labels] = formatSummary(tally, {
      task: 'classify',
      total: tally.done,
      elapsedMs: 1000,
      skipped: 0,
      interrupted: false,
    });
    expect(labels).toMatch(/^Labels: label11 12, label10 11, .* label02 3, 2 more$/);
  });
});

describe('walk: which names are taken without reading them, and which are never walked', () => {
  it('image extensions, in any case', () => {
    const taken = [
      'a.jpg',
      'b.JPEG',
      'c.png',
      'd.WebP',
      'e.gif',
      'f.avif',
      'g.tif',
      'h.TIFF',
      'i.heic',
      'j.HEIF',
    ];
    expect(taken.filter(hasImageExtension)).toEqual(taken);
    expect(['notes.txt', 'jpg', 'a.jpg.txt', 'raw.cr2', 'x.svg'].filter(hasImageExtension)).toEqual([]);
  });

  it('hidden entries', () => {
    expect(['.git', '.DS_Store', '._a.jpg', 'a.jpg'].filter(isHidden)).toEqual([
      '.git',
      '.DS_Store',
      '._a.jpg',
    ]);
  });
});

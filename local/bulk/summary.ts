/**
 * The folder run's closing report: how many images were answered and failed, the labels (classify)
 * or classes (detect) found, the errors by code, and the throughput. Pure: it counts the item
 * bodies the run wrote and formats lines; the run prints them to stderr.
 */
import type { JsonBody } from '../../lambda/src/transports/http/api-types';

/** The labels and classes the summary names; the rest are counted as "N more". */
const SHOWN = 10;

/** Counts over the item bodies of one run. */
export class BulkTally {
  answered = 0;
  failed = 0;
  /** Classify: images per top-1 label. Detect: detections per class. */
  readonly labels = new Map<string, number>();
  /** Detect: images with at least one detection of the class. */
  readonly imagesWith = new Map<string, number>();
  /** Classify: images no prediction reached minConfidence for. Detect: images with no detection. */
  unlabelled = 0;
  readonly errors = new Map<string, number>();

  /** One image's batch item body, as written. */
  add(body: JsonBody): void {
    if (typeof body.error === 'string') {
      this.failed++;
      bump(this.errors, body.error);
      return;
    }
    this.answered++;
    const detections = body.detections as { label: string }[] | undefined;
    if (detections) {
      if (detections.length === 0) this.unlabelled++;
      for (const d of detections) bump(this.labels, d.label);
      for (const label of new Set(detections.map((d) => d.label))) bump(this.imagesWith, label);
      return;
    }
    if (typeof body.label === 'string') bump(this.labels, body.label);
    else this.unlabelled++;
  }

  get done(): number {
    return this.answered + this.failed;
  }
}

/** `1 image`, `2 images`. */
const images = (n: number): string => `${n} ${n === 1 ? 'image' : 'images'}`;

function bump(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** Most first; ties by name, so the report is stable. */
export function ranked(counts: ReadonlyMap<string, number>): [string, number][] {
  return [...counts].sort(([a, m], [b, n]) => n - m || (a < b ? -1 : a > b ? 1 : 0));
}

export interface RunFacts {
  task: 'classify' | 'detect';
  /** Images this run set out to do (after --resume's skips). */
  total: number;
  elapsedMs: number;
  /** Images already in the output file (--resume). */
  skipped: number;
  interrupted: boolean;
}

/** Images per second over the elapsed time (0 before any time has passed). */
export const imagesPerSecond = (done: number, elapsedMs: number): number =>
  elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;

/** The summary lines, without trailing newlines. */
export function formatSummary(tally: BulkTally, facts: RunFacts): string[] {
  const seconds = (facts.elapsedMs / 1000).toFixed(1);
  const rate = imagesPerSecond(tally.done, facts.elapsedMs).toFixed(1);
  const of = facts.interrupted ? ` of ${facts.total}` : '';
  const lines = [
    `${facts.interrupted ? 'Interrupted after' : 'Done:'} ${tally.done}${of} ${tally.done === 1 && !of ? 'image' : 'images'} in ${seconds} s (${rate} images/s): ${tally.answered} answered, ${tally.failed} failed.`,
  ];
  const top = ranked(tally.labels);
  if (top.length > 0) {
    const shown = top.slice(0, SHOWN).map(([label, n]) => {
      const holding = tally.imagesWith.get(label) ?? 0;
      return facts.task === 'detect' ? `${label} ${n} (${images(holding)})` : `${label} ${n}`;
    });
    const more = top.length > SHOWN ? `, ${top.length - SHOWN} more` : '';
    lines.push(`${facts.task === 'detect' ? 'Classes' : 'Labels'}: ${shown.join(', ')}${more}`);
  }
  if (tally.unlabelled > 0) {
    lines.push(
      facts.task === 'detect'
        ? `No detection: ${images(tally.unlabelled)}`
        : `No label (below min-confidence): ${images(tally.unlabelled)}`,
    );
  }
  if (tally.errors.size > 0) {
    lines.push(
      `Errors: ${ranked(tally.errors)
        .map(([code, n]) => `${code} ${n}`)
        .join(', ')}`,
    );
  }
  if (facts.skipped > 0) lines.push(`Skipped ${images(facts.skipped)} already in the output (--resume).`);
  return lines;
}

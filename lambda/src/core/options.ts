import { InvalidParameterError } from './errors';
import type { Task } from './manifest';

/** Request options after validation; undefined means "the model's default". */
export interface RecognitionOptions {
  model?: string;
  topK: number;
  minConfidence?: number;
  /** Classification with a hierarchy: the summed probability the summary's ancestor must reach. */
  summaryThreshold?: number;
  iou?: number;
  maxDetections?: number;
  /**
   * Detection only: the classes to keep, as given (trimmed, lower-case): ids ('16') or names
   * ('dog'). Checked against the model's labels once the model is known (core/class-filter.ts).
   */
  classes?: string[];
  /** `image`: detection answers with the annotated JPEG instead of JSON. */
  format: 'json' | 'image';
}

export const OPTION_LIMITS = {
  topK: { min: 1, max: 100, default: 5 },
  minConfidence: { min: 0, max: 1 },
  /** Above 0: every ancestor of a class with any probability would pass a threshold of 0. */
  summaryThreshold: { min: 0.01, max: 1, default: 0.6 },
  iou: { min: 0, max: 1 },
  maxDetections: { min: 1, max: 1000 },
  /** At most this many entries in `classes`, each at most `maxLength` characters. */
  classes: { maxItems: 100, maxLength: 50 },
} as const;

/** A short, safe echo of a client value: never the whole of a huge or deeply nested one. */
function describeValue(raw: unknown): string {
  if (typeof raw === 'string') return JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}…` : raw);
  if (typeof raw === 'number' || typeof raw === 'boolean' || raw === null) return String(raw);
  return Array.isArray(raw) ? 'an array' : `a value of type ${typeof raw}`;
}

function toNumber(name: string, raw: unknown, min: number, max: number, integer: boolean): number {
  // Plain decimal only: Number() would also take '0x10', '1e1' or 'Infinity'.
  const n =
    typeof raw === 'number'
      ? raw
      : typeof raw === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(raw)
        ? Number(raw)
        : NaN;
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    const kind = integer ? 'an integer' : 'a number';
    throw new InvalidParameterError(
      name,
      `'${name}' must be ${kind} from ${min} to ${max}; got ${describeValue(raw)}.`,
    );
  }
  return n;
}

/**
 * `classes`: a comma-separated string (query string, form field), or a JSON array of names and
 * ids; empty entries are skipped ('person,,dog'), but at least one must remain.
 */
function toClassList(raw: unknown): string[] {
  const { maxItems, maxLength } = OPTION_LIMITS.classes;
  const usage = `'classes' must be class names or ids, comma-separated (e.g. 'person,dog' or '0,16')`;
  const parts = Array.isArray(raw) ? raw : [raw];
  const tokens: string[] = [];
  for (const part of parts) {
    if (typeof part === 'number' && Number.isInteger(part) && part >= 0) tokens.push(String(part));
    else if (typeof part === 'string') tokens.push(...part.split(','));
    else throw new InvalidParameterError('classes', `${usage}; got ${describeValue(raw)}.`);
  }
  const list = tokens.map((t) => t.trim().toLowerCase()).filter((t) => t !== '');
  if (list.length === 0) throw new InvalidParameterError('classes', `${usage}; got ${describeValue(raw)}.`);
  if (list.length > maxItems) {
    throw new InvalidParameterError(
      'classes',
      `'classes' lists at most ${maxItems} classes; got ${list.length}.`,
    );
  }
  const long = list.find((t) => t.length > maxLength);
  if (long !== undefined) {
    throw new InvalidParameterError(
      'classes',
      `'classes' entries are at most ${maxLength} characters; got ${describeValue(long)}.`,
    );
  }
  return [...new Set(list)];
}

const present = (v: unknown) => v !== undefined && v !== null && v !== '';

/**
 * Validates raw options from a query string, JSON body or form fields (strings or numbers).
 * Unknown keys are ignored so clients can send extra fields.
 */
export function parseOptions(raw: Readonly<Record<string, unknown>>, task: Task): RecognitionOptions {
  const opts: RecognitionOptions = { topK: OPTION_LIMITS.topK.default, format: 'json' };
  if (present(raw.model)) {
    if (typeof raw.model !== 'string' || !/^[\w.:-]{1,100}$/.test(raw.model)) {
      throw new InvalidParameterError('model', `'model' must be a model id such as 'resnet50-v1-12'.`);
    }
    opts.model = raw.model;
  }
  const L = OPTION_LIMITS;
  if (present(raw.topK)) opts.topK = toNumber('topK', raw.topK, L.topK.min, L.topK.max, true);
  if (present(raw.minConfidence))
    opts.minConfidence = toNumber('minConfidence', raw.minConfidence, 0, 1, false);
  if (present(raw.summaryThreshold)) {
    if (task !== 'classification') {
      throw new InvalidParameterError(
        'summaryThreshold',
        `'summaryThreshold' is only available on /classifier.`,
      );
    }
    opts.summaryThreshold = toNumber(
      'summaryThreshold',
      raw.summaryThreshold,
      L.summaryThreshold.min,
      L.summaryThreshold.max,
      false,
    );
  }
  if (present(raw.iou)) opts.iou = toNumber('iou', raw.iou, 0, 1, false);
  if (present(raw.maxDetections)) {
    opts.maxDetections = toNumber(
      'maxDetections',
      raw.maxDetections,
      L.maxDetections.min,
      L.maxDetections.max,
      true,
    );
  }
  if (present(raw.classes)) {
    if (task !== 'detection') {
      throw new InvalidParameterError('classes', `'classes' is only available on /detector.`);
    }
    opts.classes = toClassList(raw.classes);
  }
  if (present(raw.format)) {
    if (raw.format !== 'json' && raw.format !== 'image') {
      throw new InvalidParameterError('format', `'format' must be 'json' or 'image'.`);
    }
    if (raw.format === 'image' && task !== 'detection') {
      throw new InvalidParameterError('format', `'format=image' is only available on /detector.`);
    }
    opts.format = raw.format;
  }
  return opts;
}

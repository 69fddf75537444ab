/**
 * One output line per image, from the image's batch item body (transports/http/api.ts
 * `batchItemBody`, so a line reads as the HTTP batch answer's item): JSONL carries the body whole
 * after `path`; CSV flattens it into fixed columns a spreadsheet can filter and sort.
 */
import type { Detection, ImageInfo, Prediction } from '../../lambda/src/core/results';
import type { JsonBody } from '../../lambda/src/transports/http/api-types';
import { csvRecord } from './csv';

export type OutputFormat = 'jsonl' | 'csv';

/**
 * The CSV columns, the same for both tasks (so one header fits any run):
 * - `path`: the file, relative to the folder given, `/`-separated;
 * - `status`: the item's statusCode (200, or the error's HTTP status);
 * - `error`, `message`: the error code and message (empty when answered);
 * - `model`, `label`: the model and its top label (classify) or best detection's label (detect);
 * - `score`: that label's probability (classify) or score (detect);
 * - `count`: the number of predictions (classify) or detections (detect);
 * - `predictions`: classify `label:probability;…`; detect `label:score@x1,y1,x2,y2;…` (the box in
 *   the photo's pixels, as the answer's `box`);
 * - `summary`: the hierarchy summary's label (classifiers with a hierarchy), else empty;
 * - `width`, `height`: the photo's size.
 */
export const CSV_COLUMNS = [
  'path',
  'status',
  'error',
  'message',
  'model',
  'label',
  'score',
  'count',
  'predictions',
  'summary',
  'width',
  'height',
] as const;

/** The fields of a batch item body the CSV columns read. */
interface ItemBody {
  statusCode?: number;
  error?: string;
  message?: string;
  model?: string;
  label?: string | null;
  predictions?: Prediction[];
  detections?: Detection[];
  summary?: { label: string } | null;
  image?: ImageInfo;
}

/** A JSONL line: `path` first, then the item body as the batch answer shows it. */
export function jsonlLine(path: string, body: JsonBody): string {
  return `${JSON.stringify({ path, ...body })}\n`;
}

export const csvHeader = (): string => csvRecord(CSV_COLUMNS);

const text = (v: string | number | null | undefined): string =>
  v === undefined || v === null ? '' : String(v);

/** `label:probability;…` or `label:score@x1,y1,x2,y2;…`. */
function predictionsCell(item: ItemBody): string {
  if (item.detections) {
    return item.detections
      .map(({ label, score, box }) => `${label}:${score}@${box.x1},${box.y1},${box.x2},${box.y2}`)
      .join(';');
  }
  return (item.predictions ?? []).map((p) => `${p.label}:${p.probability}`).join(';');
}

/** A CSV row for one image, in {@link CSV_COLUMNS} order. */
export function csvRow(path: string, body: JsonBody): string {
  const item = body as ItemBody;
  const answered = item.error === undefined;
  const top = item.detections?.[0]?.score ?? item.predictions?.[0]?.probability;
  const row: Record<(typeof CSV_COLUMNS)[number], string> = {
    path,
    status: text(item.statusCode),
    error: text(item.error),
    message: text(item.message),
    model: text(item.model),
    label: text(item.label),
    score: text(top),
    count: answered ? String((item.detections ?? item.predictions ?? []).length) : '',
    predictions: answered ? predictionsCell(item) : '',
    summary: text(item.summary?.label),
    width: text(item.image?.width),
    height: text(item.image?.height),
  };
  return csvRecord(CSV_COLUMNS.map((c) => row[c]));
}

/** One image's line in the chosen format. */
export function outputLine(format: OutputFormat, path: string, body: JsonBody): string {
  return format === 'csv' ? csvRow(path, body) : jsonlLine(path, body);
}

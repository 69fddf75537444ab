/**
 * `npm run classify -- ./photos/ --out results.jsonl`: every image under a folder through the
 * service's batched path, one line per image (the HTTP batch answer's item, after its `path`),
 * progress and a summary on stderr. Ctrl+C or SIGTERM stops it with every line written whole, and
 * `--resume` carries on where it stopped.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isRecognitionError, type RecognitionError } from '../../lambda/src/core/errors';
import type { Task } from '../../lambda/src/core/manifest';
import { parseOptions, type RecognitionOptions } from '../../lambda/src/core/options';
import type { RecognitionService } from '../../lambda/src/service/recognition-service';
import { batchItemBody, errorResponse } from '../../lambda/src/transports/http/api';
import { bodyBytes } from '../../lambda/src/transports/http/api-types';
import { createCliService, fallbackNote } from '../cli-service';
import { csvHeader, outputLine, type OutputFormat } from './lines';
import { fileOutput, stdoutOutput, type OpenMode, type OutputSink } from './output';
import { recognizeFiles } from './pipeline';
import { ProgressReporter } from './progress';
import { ForeignOutputError, resumeOutput } from './resume';
import { BulkTally, formatSummary } from './summary';
import { findImages } from './walk';

export interface FolderRun {
  folder: string;
  task: 'classify' | 'detect';
  /** The output file; lines go to stdout without one. */
  out?: string;
  /** Given with --format; else csv for an --out ending in .csv, jsonl otherwise. */
  format?: OutputFormat;
  resume: boolean;
  force: boolean;
  /** The options as the HTTP routes take them (topK, minConfidence, …), for the same parser. */
  query: Record<string, string>;
  manifest?: string;
}

/** Exit codes of a folder run. */
export const EXIT = { answered: 0, nothingDone: 1, usage: 2, interrupted: 130 } as const;

/** A second Ctrl+C this long after the first ends the run at once (npm passes one signal on too). */
const FORCE_AFTER_MS = 1000;
/** After a stop, how long the model run already under way may take before the process exits. */
const IDLE_WAIT_MS = 30_000;

const TASKS: Record<FolderRun['task'], Task> = { classify: 'classification', detect: 'detection' };

const say = (line: string) => process.stderr.write(`${line}\n`);

/** An error as the API's body shows it (same code and message as a bad query parameter gets). */
function sayError(e: RecognitionError, runId: string): void {
  say(bodyBytes(errorResponse(e, runId)).toString());
}

export function formatFor(run: Pick<FolderRun, 'format' | 'out'>): OutputFormat {
  return run.format ?? (run.out?.toLowerCase().endsWith('.csv') ? 'csv' : 'jsonl');
}

/** Until the model has no run waiting or running (a run cannot be interrupted), or the limit. */
async function untilIdle(service: RecognitionService, limitMs: number): Promise<void> {
  const end = Date.now() + limitMs;
  while (Object.values(service.queueSizes()).some((n) => n > 0) && Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Stops the run on SIGINT and SIGTERM: aborts `controller` on the first, exits at once on one that
 * comes later than {@link FORCE_AFTER_MS} (every line written is already whole). Returns the remover.
 */
function stopOnSignals(controller: AbortController, onStop: (signal: string) => void): () => void {
  let first = 0;
  const handler = (signal: NodeJS.Signals) => {
    if (first === 0) {
      first = Date.now();
      onStop(signal);
      controller.abort(new Error(`stopped by ${signal}`));
    } else if (Date.now() - first > FORCE_AFTER_MS) {
      process.exit(EXIT.interrupted);
    }
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** The images a run is to do, after --resume's skips; or the exit code when there are none. */
async function imagesToDo(
  run: FolderRun,
  format: OutputFormat,
  signal: AbortSignal,
): Promise<{ todo: string[]; skipped: number; hasHeader: boolean } | number> {
  const { files, others, unreadable } = await findImages(run.folder, signal);
  for (const dir of unreadable) say(`Skipped ${dir}: the folder could not be listed.`);
  const passedOver = others > 0 ? ` (${others} other files passed over)` : '';
  if (files.length === 0) {
    say(`No images under ${run.folder}${passedOver}.`);
    return EXIT.nothingDone;
  }
  say(`${files.length} images under ${run.folder}${passedOver}.`);
  if (!run.resume || !run.out) return { todo: files, skipped: 0, hasHeader: false };
  let written;
  try {
    written = await resumeOutput(run.out, format);
  } catch (e) {
    if (!(e instanceof ForeignOutputError)) throw e;
    say(`Cannot resume ${run.out} as ${format}: ${e.message}.`);
    return EXIT.usage;
  }
  if (written.cutBytes > 0) {
    say(`Cut the torn last line (${written.cutBytes} bytes) off ${run.out}; its image is done again.`);
  }
  const todo = files.filter((f) => !written.paths.has(f));
  const skipped = files.length - todo.length;
  if (todo.length === 0) {
    say(`All ${files.length} images under ${run.folder} are already in ${run.out}.`);
    return EXIT.answered;
  }
  if (skipped > 0)
    say(`${skipped} of ${files.length} images are already in ${run.out}; doing the other ${todo.length}.`);
  return { todo, skipped, hasHeader: written.hasHeader };
}

/**
 * The model the run needs, loaded and run once; or the exit code: a usage error for options the
 * model refuses (an unknown model, one of the other task, unknown classes), 1 when it cannot load.
 */
async function readyModel(
  service: RecognitionService,
  task: Task,
  options: RecognitionOptions,
  runId: string,
): Promise<number | undefined> {
  try {
    // No images: only the whole-request checks run.
    await service.recognizeBatch(task, [], options);
  } catch (e) {
    if (!isRecognitionError(e)) throw e;
    sayError(e, runId);
    return EXIT.usage;
  }
  const model = options.model ?? service.defaultModel(task);
  const [warm] = await service.warmUp([model]);
  const note = options.model ? undefined : fallbackNote(service, task);
  if (note) say(note);
  if (warm?.ok) return undefined;
  say(`Model ${model} could not be loaded: ${warm?.error ?? 'unknown error'}`);
  return EXIT.nothingDone;
}

function openOutput(run: FolderRun, onStdoutClosed: () => void): OutputSink | undefined {
  if (!run.out) return stdoutOutput(onStdoutClosed);
  const mode: OpenMode = run.resume ? 'append' : run.force ? 'overwrite' : 'new';
  try {
    return fileOutput(run.out, mode);
  } catch (e) {
    say(`Cannot write ${run.out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`);
    return undefined;
  }
}

export async function runFolder(run: FolderRun): Promise<number> {
  const runId = randomUUID();
  const task = TASKS[run.task];
  const format = formatFor(run);
  let options: RecognitionOptions;
  try {
    options = parseOptions(run.query, task);
  } catch (e) {
    if (!isRecognitionError(e)) throw e;
    sayError(e, runId);
    return EXIT.usage;
  }
  if (run.out && !run.resume && !run.force && existsSync(run.out)) {
    say(`${run.out} exists: add --resume to carry on with it, or --force to overwrite it.`);
    return EXIT.usage;
  }

  const controller = new AbortController();
  // Set by the signal handler; read through a function, so the checks below are not narrowed away.
  let interruptedBy: string | undefined;
  const interrupted = () => interruptedBy !== undefined;
  let progress: ProgressReporter | undefined;
  const removeSignals = stopOnSignals(controller, (signal) => {
    interruptedBy = signal;
    const line = `${signal}: stopping; every line written so far is whole.`;
    if (progress) progress.log(line);
    else say(line);
  });
  let service: RecognitionService | undefined;
  try {
    const plan = await imagesToDo(run, format, controller.signal);
    if (typeof plan === 'number') return plan;
    const { todo, skipped } = plan;
    const ready = createCliService(run.manifest).service;
    service = ready;
    const notReady = await readyModel(ready, task, options, runId);
    if (notReady !== undefined) return notReady;
    if (interrupted()) return EXIT.interrupted;
    const sink = openOutput(run, () => {
      controller.abort(new Error('stdout closed'));
    });
    if (!sink) return EXIT.usage;
    if (format === 'csv' && !plan.hasHeader) sink.write(csvHeader());

    const tally = new BulkTally();
    // A bar redrawn in place only where it cannot garble the lines (they go to a file or a pipe).
    const interactive = process.stderr.isTTY && (run.out !== undefined || !process.stdout.isTTY);
    progress = new ProgressReporter(process.stderr, todo.length, interactive);
    const started = performance.now();
    try {
      const chunks = recognizeFiles(todo, {
        root: run.folder,
        signal: controller.signal,
        recognize: (images, signal) => ready.recognizeBatch(task, images, options, signal),
      });
      for await (const chunk of chunks) {
        for (const { path, item } of chunk) {
          const body = batchItemBody(item, runId);
          sink.write(outputLine(format, path, body));
          tally.add(body);
          // The answer hides an internal failure's cause (it may hold paths); the user may see it.
          if (!item.ok && item.error.code === 'INTERNAL') {
            const { cause } = item.error;
            progress.log(
              `${path}: internal error: ${cause instanceof Error ? cause.message : item.error.message}`,
            );
          }
        }
        progress.update(tally.done, tally.failed);
      }
    } catch (e) {
      if (!controller.signal.aborted) throw e;
    }
    const elapsedMs = performance.now() - started;
    progress.finish();
    await sink.close();
    // A model run under way cannot be interrupted: the session is released once it is over.
    if (controller.signal.aborted) await untilIdle(ready, IDLE_WAIT_MS);
    const facts = { task: run.task, total: todo.length, elapsedMs, skipped, interrupted: interrupted() };
    for (const line of formatSummary(tally, facts)) say(line);
    if (interrupted() && run.out) say(`Run again with --resume to do the other ${todo.length - tally.done}.`);
    if (interrupted()) return EXIT.interrupted;
    return tally.answered > 0 ? EXIT.answered : EXIT.nothingDone;
  } catch (e) {
    if (interrupted() && controller.signal.aborted) return EXIT.interrupted;
    throw e;
  } finally {
    removeSignals();
    await service?.close();
  }
}

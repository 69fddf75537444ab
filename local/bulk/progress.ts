/**
 * The folder run's progress on stderr: on a terminal one line redrawn in place (bar, done/total,
 * rate, ETA), at most ten times a second; otherwise (a log file, CI) a plain line every few seconds
 * or every tenth of the work, so a log stays short and still shows the run moving.
 */
import { imagesPerSecond } from './summary';

export interface Progress {
  done: number;
  total: number;
  failed: number;
  elapsedMs: number;
}

const BAR_WIDTH = 24;
/** Redraws on a terminal at most this often. */
const REDRAW_MS = 100;
/** Plain lines: one at least this often, and one at every tenth of the work. */
const PLAIN_EVERY_MS = 5000;

/** `m:ss`, or `h:mm:ss` from an hour up. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const two = (n: number) => String(n).padStart(2, '0');
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}

/**
 * `[#########...............]  120/1000  12%  25.3 img/s  ETA 0:35  (3 failed)`; without the bar
 * for plain lines. The ETA assumes the rate so far holds; before the first image it is unknown.
 */
export function formatProgress(p: Progress, withBar = true): string {
  const fraction = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
  const filled = Math.round(fraction * BAR_WIDTH);
  const bar = withBar ? `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]  ` : '';
  const width = String(p.total).length;
  const rate = imagesPerSecond(p.done, p.elapsedMs);
  const eta = rate > 0 ? formatDuration((p.total - p.done) / rate) : '-:--';
  const failed = p.failed > 0 ? `  (${p.failed} failed)` : '';
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  return `${bar}${String(p.done).padStart(width)}/${p.total} ${percent}  ${rate.toFixed(1)} img/s  ETA ${eta}${failed}`;
}

/** Where progress goes: stderr, or a test's stand-in. */
export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

/** Draws {@link formatProgress} as the run advances; `log` prints a message without garbling it. */
export class ProgressReporter {
  private readonly start: number;
  private lastDraw = -Infinity;
  private lastDecile = 0;
  private drawn = false;
  private state: Progress;

  constructor(
    private readonly stream: ProgressStream,
    total: number,
    private readonly interactive = stream.isTTY === true,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.start = now();
    // A log's first line comes at the first tenth or after the first interval, like the others.
    if (!interactive) this.lastDraw = this.start;
    this.state = { done: 0, total, failed: 0, elapsedMs: 0 };
    if (interactive) this.draw();
  }

  update(done: number, failed: number): void {
    const t = this.now();
    this.state = { ...this.state, done, failed, elapsedMs: t - this.start };
    if (this.interactive) {
      if (t - this.lastDraw >= REDRAW_MS || done === this.state.total) this.draw();
      return;
    }
    const decile = this.state.total > 0 ? Math.floor((done * 10) / this.state.total) : 10;
    if (t - this.lastDraw >= PLAIN_EVERY_MS || decile > this.lastDecile) {
      this.lastDecile = decile;
      this.lastDraw = t;
      this.stream.write(`${formatProgress(this.state, false)}\n`);
    }
  }

  /** A message line (a warning): on a terminal the bar is cleared first and drawn again after. */
  log(line: string): void {
    if (this.interactive && this.drawn) this.stream.write('\r\x1b[K');
    this.stream.write(`${line}\n`);
    if (this.interactive) this.draw();
  }

  /** The last state drawn and the line ended, so what follows starts on a line of its own. */
  finish(): void {
    if (!this.interactive) return;
    this.draw();
    this.stream.write('\n');
    this.drawn = false;
  }

  private draw(): void {
    this.lastDraw = this.now();
    this.stream.write(`\r${formatProgress(this.state)}\x1b[K`);
    this.drawn = true;
  }
}

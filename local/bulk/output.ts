/**
 * Where the lines go: a file (--out) or stdout. A file gets each line with one synchronous append,
 * so whatever stops the run (Ctrl+C, a crash, a kill between two lines) leaves whole lines only;
 * a kill in the middle of one write can at worst tear the last line, which `--resume` cuts off.
 */
import { closeSync, openSync, writeFileSync } from 'node:fs';

export interface OutputSink {
  /** One whole line (or CSV record), written before this returns (a file) or queued in order. */
  write(line: string): void;
  /** Everything written has reached the file or the pipe. */
  close(): Promise<void>;
}

/**
 * How an existing file is treated: `new` refuses one (EEXIST), `overwrite` (--force) empties it,
 * `append` (--resume) keeps its lines and writes after them.
 */
export type OpenMode = 'new' | 'overwrite' | 'append';

const FLAGS: Record<OpenMode, string> = { new: 'wx', overwrite: 'w', append: 'a' };

export function fileOutput(file: string, mode: OpenMode): OutputSink {
  const fd = openSync(file, FLAGS[mode]);
  return {
    write(line) {
      // One call for the whole line: writeFileSync on a descriptor loops until every byte is written.
      writeFileSync(fd, line);
    },
    close() {
      closeSync(fd);
      return Promise.resolve();
    },
  };
}

/**
 * stdout as the stream Node gives (a pipe may not take a synchronous write when its reader is
 * slow); lines keep their order, and close() waits until they are all out. `onClosed` hears of a
 * reader that went away (`| head`), so the run can stop instead of dying of EPIPE.
 */
export function stdoutOutput(onClosed: () => void): OutputSink {
  process.stdout.on('error', onClosed);
  return {
    write(line) {
      process.stdout.write(line);
    },
    close() {
      return new Promise((resolve) => {
        // Called once everything queued before it is flushed (or the stream failed).
        process.stdout.write('', () => {
          process.stdout.off('error', onClosed);
          resolve();
        });
      });
    },
  };
}

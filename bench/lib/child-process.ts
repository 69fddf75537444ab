import { spawn } from 'node:child_process';

/** One JSON line a benchmark child prints per milestone (`first`, `after`, `error`). */
export interface ChildLine {
  event: string;
  [k: string]: unknown;
}

/**
 * Runs a benchmark child (`node <args>`, or `options.command <args>`) and collects its `{"event": …}` lines (other output, such
 * as telemetry, is skipped). `firstAtMs` is the parent's clock from spawn() to the `first` line, so
 * whatever the child does afterwards does not count. Rejects unless the child exits 0 having
 * printed `first`.
 */
export function runEventChild(
  args: readonly string[],
  options: {
    cwd: string;
    env: NodeJS.ProcessEnv;
    name: string;
    /** The program to run (default: this node); e.g. a Python interpreter with the script in args. */
    command?: string;
  },
): Promise<{ lines: ChildLine[]; firstAtMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let firstAtMs = NaN;
    const child = spawn(options.command ?? process.execPath, [...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: ChildLine[] = [];
    let buffer = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!line.startsWith('{"event"')) continue;
        const parsed = JSON.parse(line) as ChildLine;
        if (parsed.event === 'first') firstAtMs = performance.now() - started;
        lines.push(parsed);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0 && !Number.isNaN(firstAtMs)) {
        resolve({ lines, firstAtMs });
        return;
      }
      const failed = lines.find((l) => l.event === 'error');
      const reason = typeof failed?.message === 'string' ? failed.message : stderr.slice(-500);
      reject(new Error(`${options.name} child exited ${code}: ${reason}`));
    });
  });
}

import { spawn, spawnSync } from 'node:child_process';
import type { ChildLine } from '../lib/child-process';

/** The interpreter Debian's python3-opencv installs into (not a pyenv or venv one). */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/** OpenCV's version when `python -c 'import cv2'` works, else why not. */
export function opencvVersion(python = SYSTEM_PYTHON): { version: string } | { missing: string } {
  const r = spawnSync(
    python,
    ['-c', 'import cv2, numpy, sys; print(cv2.__version__, sys.version.split()[0])'],
    {
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  if (r.error) return { missing: `${python}: ${r.error.message}` };
  if (r.status !== 0) return { missing: r.stderr.trim().split('\n').at(-1) ?? `exit ${r.status}` };
  const [cv2, py] = r.stdout.trim().split(' ');
  return { version: `OpenCV ${cv2} (Python ${py})` };
}

/**
 * bench/lib/child-process.ts `runEventChild` for a Python child: collects its `{"event": …}` lines;
 * `firstAtMs` is the parent's clock from spawn() to the `first` line. Rejects unless the child exits
 * 0 having printed `first` (with the child's `error` message when it printed one).
 */
export function runPythonChild(
  script: string,
  options: { cwd: string; env: NodeJS.ProcessEnv; name: string; python?: string },
): Promise<{ lines: ChildLine[]; firstAtMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let firstAtMs = NaN;
    const child = spawn(options.python ?? SYSTEM_PYTHON, [script], {
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

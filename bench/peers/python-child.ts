import { spawnSync } from 'node:child_process';
import { runEventChild, type ChildLine } from '../lib/child-process';

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

/** {@link runEventChild} for a Python child (Debian's interpreter unless `python` says otherwise). */
export function runPythonChild(
  script: string,
  options: { cwd: string; env: NodeJS.ProcessEnv; name: string; python?: string },
): Promise<{ lines: ChildLine[]; firstAtMs: number }> {
  const { python, ...rest } = options;
  return runEventChild([script], { ...rest, command: python ?? SYSTEM_PYTHON });
}

import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './models';

/** Clock ticks per second of /proc's CPU times (getconf CLK_TCK; 100 on Linux almost everywhere). */
function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

/** A process's CPU time so far, user + system over all its threads, from /proc/<pid>/stat. */
export function processCpuMs(pid: number, ticksPerSecond = clockTicks()): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces, inside parentheses): utime is the 12th
  // and stime the 13th of them (fields 14 and 15 of proc(5)).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / ticksPerSecond;
}

export interface ServerChild {
  url: string;
  pid: number;
  /** The server process's CPU time so far (ms), every thread included. */
  cpuMs: () => number;
  close: () => Promise<void>;
}

/** The local server in a child process of its own (bench/child/local-server.ts), ready to answer. */
export function startServerChild(env: NodeJS.ProcessEnv): Promise<ServerChild> {
  const ticks = clockTicks();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, '..', 'child', 'local-server.ts')],
    {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!line.startsWith('{"event"')) continue;
        const parsed = JSON.parse(line) as { event: string; url?: string; message?: string };
        if (parsed.event === 'error') reject(new Error(`server child: ${parsed.message ?? ''}`));
        if (parsed.event !== 'listening' || !parsed.url || child.pid === undefined) continue;
        const pid = child.pid;
        resolve({
          url: parsed.url,
          pid,
          cpuMs: () => processCpuMs(pid, ticks),
          close: () =>
            new Promise<void>((done) => {
              child.once('exit', () => {
                done();
              });
              child.kill('SIGTERM');
            }),
        });
      }
    });
    child.on('exit', (code) => {
      reject(new Error(`server child exited ${code}: ${stderr.slice(-500)}`));
    });
  });
}

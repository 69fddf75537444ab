import { spawn } from 'node:child_process';

export interface BurstReply {
  status: number;
  /** The content type of the answer. */
  type: string;
  /** The `error` field of a JSON answer (null when it has none or is not JSON). */
  error: string | null;
}

// Runs in the child: reads the body from stdin, sends it `n` times at once, prints the replies.
const CLIENT = `
const [url, n, type] = process.argv.slice(1);
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c)).on('end', async () => {
  const body = Buffer.concat(chunks);
  const replies = await Promise.all(Array.from({ length: Number(n) }, async () => {
    const res = await fetch(url, { method: 'POST', body, headers: { 'Content-Type': type } });
    const text = await res.text();
    let error = null;
    try { error = JSON.parse(text).error ?? null; } catch {}
    return { status: res.status, type: res.headers.get('content-type') ?? '', error };
  }));
  process.stdout.write(JSON.stringify(replies));
});`;

/**
 * Sends `n` copies of a request at once from a separate node process and returns the replies in
 * order. A separate process because onnxruntime-node runs a model on the main thread: a client
 * sharing the server's event loop can only send between runs, so its requests trickle in one by one
 * instead of arriving as a burst.
 */
export function burstFromAnotherProcess(
  url: string,
  body: Buffer,
  n: number,
  contentType = 'image/jpeg',
): Promise<BurstReply[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CLIENT, url, String(n), contentType], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        if (code !== 0) throw new Error(`exit ${code}`);
        resolve(JSON.parse(out) as BurstReply[]);
      } catch (e) {
        reject(new Error(`burst client failed (${String(e)}): ${err}`));
      }
    });
    child.stdin.end(body);
  });
}

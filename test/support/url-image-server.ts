import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

/**
 * A real node:http server on 127.0.0.1 for the image-URL fetcher's tests. Paths:
 * - `/image`: the bytes with Content-Length; `/chunked`: the bytes chunked, no Content-Length
 * - `/redirect/<n>`: 302 to `/redirect/<n-1>`; `/redirect/0` is `/image`
 * - `/to?location=<url>`: 302 to that location
 * - `/status/<code>`: that status with a body the client must not echo (`BODY_SECRET`)
 * - `/announce/<bytes>`: 200 with that Content-Length, headers flushed, then no body at all
 * - `/endless`: 200 chunked, 16 KiB chunks for as long as the client reads
 * - `/truncated`: full Content-Length, half the bytes, then the socket is destroyed
 * - `/silent`: never answers; `/stall`: headers and 1 000 bytes, then silence
 * - `/trickle/<ms>`: the bytes with Content-Length, in 8 pieces `<ms>` apart
 * - `/gzip`: the bytes gzip-encoded
 */
export interface UrlImageServer {
  port: number;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** Paths requested, in order. */
  readonly requests: string[];
  /** Body bytes written to responses so far. */
  readonly bodyBytesWritten: number;
  /** Responses whose connection closed before the server ended them. */
  readonly closedEarly: number;
  /** Resolves when the next response closes before the server ended it. */
  nextEarlyClose(): Promise<void>;
  close(): Promise<void>;
}

export const BODY_SECRET = 'internal-body-text-never-echoed';

export async function startUrlImageServer(bytes: Buffer): Promise<UrlImageServer> {
  const requests: string[] = [];
  let bodyBytesWritten = 0;
  let closedEarly = 0;
  let earlyWaiters: (() => void)[] = [];
  const write = (res: ServerResponse, chunk: Buffer) => {
    bodyBytesWritten += chunk.length;
    return res.write(chunk);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(url.pathname);
    res.on('close', () => {
      if (!res.writableFinished) {
        closedEarly++;
        const waiters = earlyWaiters;
        earlyWaiters = [];
        for (const w of waiters) w();
      }
    });
    const [, first, arg] = url.pathname.split('/');
    const full = () => {
      res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': String(bytes.length) });
      write(res, bytes);
      res.end();
    };
    switch (first) {
      case 'image':
        full();
        return;
      case 'chunked':
        res.writeHead(200, { 'Content-Type': 'image/jpeg' });
        for (let i = 0; i < bytes.length; i += 8192) write(res, bytes.subarray(i, i + 8192));
        res.end();
        return;
      case 'redirect': {
        const n = Number(arg);
        if (n <= 0) {
          full();
          return;
        }
        res.writeHead(302, { Location: `/redirect/${n - 1}` });
        res.end();
        return;
      }
      case 'to':
        res.writeHead(302, { Location: url.searchParams.get('location') ?? '/' });
        res.end();
        return;
      case 'status':
        res.writeHead(Number(arg), { 'Content-Type': 'text/plain' });
        res.end(BODY_SECRET);
        return;
      case 'announce':
        res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': String(arg) });
        res.flushHeaders();
        return;
      case 'endless': {
        res.writeHead(200, { 'Content-Type': 'image/jpeg' });
        const chunk = Buffer.alloc(16384, 0xff);
        const pump = () => {
          while (!res.destroyed && write(res, chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        pump();
        return;
      }
      case 'truncated':
        res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': String(bytes.length) });
        write(res, bytes.subarray(0, bytes.length >> 1));
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      case 'silent':
        return;
      case 'trickle': {
        res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': String(bytes.length) });
        const piece = Math.ceil(bytes.length / 8);
        let at = 0;
        const next = () => {
          if (res.destroyed) return;
          write(res, bytes.subarray(at, at + piece));
          at += piece;
          if (at >= bytes.length) res.end();
          else setTimeout(next, Number(arg));
        };
        next();
        return;
      }
      case 'stall':
        res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': String(bytes.length) });
        write(res, bytes.subarray(0, 1000));
        return;
      case 'gzip': {
        const gz = gzipSync(bytes);
        res.writeHead(200, {
          'Content-Type': 'image/jpeg',
          'Content-Encoding': 'gzip',
          'Content-Length': String(gz.length),
        });
        write(res, gz);
        res.end();
        return;
      }
      default:
        res.writeHead(404);
        res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    requests,
    get bodyBytesWritten() {
      return bodyBytesWritten;
    },
    get closedEarly() {
      return closedEarly;
    },
    nextEarlyClose: () =>
      new Promise<void>((resolve) => {
        earlyWaiters.push(resolve);
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

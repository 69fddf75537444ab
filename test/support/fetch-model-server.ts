import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

/** How the server answers one request. */
export type Behaviour =
  | { kind: 'full' }
  /** Full Content-Length, `afterBytes` of the body (default: half), then the socket is destroyed. */
  | { kind: 'cut'; afterBytes?: number; delayMs?: number }
  /** Full Content-Length, `afterBytes` of the body, then nothing (the connection stays open). */
  | { kind: 'stall'; afterBytes: number }
  /** An HTTP error status with a short text body. */
  | { kind: 'status'; status: number }
  /** The whole file gzip-encoded (Content-Encoding: gzip, Content-Length of the compressed bytes). */
  | { kind: 'gzip' };

export interface ModelServerOptions {
  /** Behaviour for the n-th request (1-based); default: every request gets the full file. */
  behave?: (request: number) => Behaviour;
  /** Called just before a cut socket is destroyed (to look at the disk mid-transfer). */
  onCut?: () => void;
}

export interface ModelServer {
  port: number;
  /** URL of the served file (any path serves the same bytes). */
  url: string;
  /** Requests received so far. */
  readonly requests: number;
  /** Requests that were cut mid-body. */
  readonly cuts: number;
  close(): Promise<void>;
}

/** The first `n` requests behave as `first`, the rest get the full file. */
export const firstRequests =
  (n: number, first: Behaviour) =>
  (request: number): Behaviour =>
    request <= n ? first : { kind: 'full' };

/** A real node:http server on 127.0.0.1 serving one file's bytes. */
export async function startModelServer(
  bytes: Buffer,
  options: ModelServerOptions = {},
): Promise<ModelServer> {
  let requests = 0;
  let cuts = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    const b = options.behave?.(requests) ?? { kind: 'full' };
    switch (b.kind) {
      case 'full':
        res.writeHead(200, {
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(bytes.length),
        });
        res.end(bytes);
        return;
      case 'status':
        res.writeHead(b.status, { 'Content-Type': 'text/plain' });
        res.end(`status ${b.status}`);
        return;
      case 'gzip': {
        const gz = gzipSync(bytes);
        res.writeHead(200, {
          'Content-Type': 'application/octet-stream',
          'Content-Encoding': 'gzip',
          'Content-Length': String(gz.length),
        });
        res.end(gz);
        return;
      }
      case 'stall':
        res.writeHead(200, {
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(bytes.length),
        });
        res.write(bytes.subarray(0, b.afterBytes));
        return;
      case 'cut':
        res.writeHead(200, {
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(bytes.length),
        });
        res.write(bytes.subarray(0, b.afterBytes ?? Math.floor(bytes.length / 2)), () => {
          // By default, give the client a moment to write what it received, then cut.
          setTimeout(() => {
            cuts++;
            options.onCut?.();
            req.socket.destroy();
          }, b.delayMs ?? 50);
        });
        return;
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}/models/model.onnx`,
    get requests() {
      return requests;
    },
    get cuts() {
      return cuts;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** A port on 127.0.0.1 that nothing listens on (connections are refused). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  return port;
}

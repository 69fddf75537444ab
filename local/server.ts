import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { loadConfig, type Config } from '../lambda/src/adapters/config';
import {
  InternalError,
  InvalidRequestError,
  OverloadedError,
  PayloadTooLargeError,
  type RecognitionError,
} from '../lambda/src/core/errors';
import { prepareMissing } from './prepare-on-load';
import { createService } from '../lambda/src/service/create-service';
import type { RecognitionService } from '../lambda/src/service/recognition-service';
import { createApiHandler } from '../lambda/src/transports/api-handler';
import { errorResponse } from '../lambda/src/transports/http/api';
import { bodyBytes } from '../lambda/src/transports/http/api-types';
import { fromNodeRequest, writeApiResponse } from './node-http';
import { createTelemetry } from '../lambda/src/transports/telemetry';

export interface LocalServerOptions {
  port?: number;
  host?: string;
  env?: NodeJS.ProcessEnv;
  /** Folder served at / (classifier.html); defaults to the repo's web/. */
  webDir?: string;
}

export interface LocalServer {
  url: string;
  config: Config;
  service: RecognitionService;
  server: Server;
  preload: Promise<{ id: string; ok: boolean; error?: string }[]>;
  close(): Promise<void>;
}

const STATIC_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/**
 * The page may only load its own files and talk to this origin: the policy of a server without an
 * upload endpoint (and, in lib/web-frontend.ts, the deployed page's).
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/**
 * The page's policy on this server. With uploads to an S3-compatible endpoint (UPLOAD_S3_ENDPOINT)
 * the page PUTs large photos there itself, so that origin (and only it) joins connect-src.
 */
export function contentSecurityPolicy(uploads: Config['uploads']): string {
  if (!uploads?.endpoint) return CONTENT_SECURITY_POLICY;
  let origin: string;
  try {
    origin = new URL(uploads.endpoint).origin;
  } catch {
    return CONTENT_SECURITY_POLICY;
  }
  if (!/^https?:\/\/[^\s;,']+$/.test(origin)) return CONTENT_SECURITY_POLICY;
  return CONTENT_SECURITY_POLICY.replace("connect-src 'self'", `connect-src 'self' ${origin}`);
}

async function serveStatic(
  webDir: string,
  pathname: string,
  res: ServerResponse,
  headOnly: boolean,
  policy: string,
): Promise<boolean> {
  let name: string;
  try {
    name = pathname === '/' ? 'classifier.html' : decodeURIComponent(pathname.slice(1));
  } catch {
    return false; // malformed percent-encoding: not a file of ours
  }
  if (name.includes('\0') || !STATIC_TYPES[path.extname(name)]) return false;
  const file = path.resolve(webDir, name);
  if (!file.startsWith(webDir + path.sep)) return false;
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch {
    return false;
  }
  res.writeHead(200, {
    'Content-Type': STATIC_TYPES[path.extname(name)] ?? 'application/octet-stream',
    'Content-Length': String(data.length),
    'Content-Security-Policy': policy,
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-cache',
  });
  res.end(headOnly ? undefined : data);
  return true;
}

/** Errors the server answers itself (before the API) have the API's error shape. */
function writeError(res: ServerResponse, error: RecognitionError): void {
  writeApiResponse(res, errorResponse(error, randomUUID()));
}

/**
 * Answers a request without reading its body. Closing while the client still sends makes the
 * kernel reset the connection and the client would never read the answer: discard what comes for a
 * moment, then cut a body that is still arriving.
 */
function refuseUnread(req: IncomingMessage, res: ServerResponse, error: RecognitionError): void {
  writeError(res, error);
  req.resume();
  setTimeout(() => {
    if (!req.complete) req.socket.destroy();
  }, 1000).unref();
}

/** Methods whose requests carry a body to read, decode and run a model on. */
const WORK_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Reads the body, refusing it as soon as it passes the limit (before the rest is read). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      reject(new PayloadTooLargeError(`The request body is ${declared} bytes; the limit is ${limit} bytes.`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        reject(new PayloadTooLargeError(`The request body is over the ${limit}-byte limit.`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

/**
 * The local server: the same Lambda handler behind node:http through an API Gateway event
 * adapter, plus the web page. Used by `npm start`, the tests and the benchmarks.
 */
export async function startLocalServer(options: LocalServerOptions = {}): Promise<LocalServer> {
  const config = loadConfig(options.env ?? process.env);
  const service = createService(config, { prepareMissing });
  const preload = service.preload(config.preload);
  const env = options.env ?? process.env;
  const api = createApiHandler(service, config, { ready: preload, telemetry: createTelemetry(env) });
  const webDir = path.resolve(options.webDir ?? path.join(path.dirname(config.modelsDir), 'web'));
  const pagePolicy = contentSecurityPolicy(config.uploads);
  // base64 adds a third; multipart and JSON add a little more.
  const bodyLimit = Math.ceil((config.maxImageBytes * 4) / 3) + 64 * 1024;
  // Requests being read, decoded or run now. Each may buffer a body of up to bodyLimit and hold a
  // decode: past the cap, answering 503 at once is cheaper than queueing them all in memory.
  let inFlight = 0;

  const server = createServer((req, res) => {
    const method = req.method ?? 'GET';
    if (WORK_METHODS.has(method)) {
      if (inFlight >= config.maxInFlight) {
        refuseUnread(
          req,
          res,
          new OverloadedError(`Too many requests in progress (${config.maxInFlight}); retry shortly.`, 1),
        );
        return;
      }
      inFlight++;
      // 'close' comes once, whatever ends the request: the answer sent, or the client gone.
      res.once('close', () => {
        inFlight--;
      });
    }
    void (async () => {
      // Concatenated rather than resolved: a request path like '//host/x' is a path, not a host.
      let url: URL;
      try {
        url = new URL(`http://localhost${(req.url ?? '/').startsWith('/') ? '' : '/'}${req.url ?? ''}`);
      } catch {
        writeError(res, new InvalidRequestError('The request path is malformed.'));
        return;
      }
      if (
        (method === 'GET' || method === 'HEAD') &&
        (await serveStatic(webDir, url.pathname, res, method === 'HEAD', pagePolicy))
      )
        return;
      let body: Buffer;
      try {
        body = method === 'GET' || method === 'HEAD' ? Buffer.alloc(0) : await readBody(req, bodyLimit);
      } catch (e) {
        // No 'Connection: close': closing while the client still sends makes the kernel reset
        // the connection and the client would never read the 413. Drain briefly, then cut.
        writeError(
          res,
          e instanceof PayloadTooLargeError
            ? e
            : new PayloadTooLargeError('The request body could not be read.'),
        );
        // Stop reading the rest; the client has its answer.
        req.resume();
        setTimeout(() => {
          req.socket.destroy();
        }, 1000).unref();
        return;
      }
      writeApiResponse(res, await api(fromNodeRequest(req, url, body)));
    })().catch(() => {
      if (res.headersSent) res.end();
      else writeError(res, new InternalError('unhandled'));
    });
  });
  // Requests Node's parser rejects (bad method, bad header) still get a JSON answer.
  server.on('clientError', (_err, socket) => {
    if (!socket.writable) return;
    const response = errorResponse(new InvalidRequestError('The HTTP request is malformed.'), randomUUID());
    const body = bodyBytes(response);
    const headers = Object.entries({
      ...response.headers,
      'Content-Length': String(body.length),
      Connection: 'close',
    })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 400 Bad Request\r\n${headers}\r\n`), body]));
  });
  server.requestTimeout = config.requestTimeoutMs + 5000;
  server.headersTimeout = 15_000;
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3000, options.host ?? '127.0.0.1', resolve);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    config,
    service,
    server,
    preload,
    async close() {
      server.closeIdleConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      await service.close();
    },
  };
}

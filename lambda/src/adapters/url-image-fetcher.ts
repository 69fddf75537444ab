import dns from 'node:dns';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction, Socket } from 'node:net';
import { describeOrigin, UrlPolicy, type AllowedUrl } from '../core/address-policy';
import {
  PayloadTooLargeError,
  RecognitionError,
  SourceNotAllowedError,
  SourceNotFoundError,
  SourceTimeoutError,
  SourceUnreadableError,
} from '../core/errors';
import type { ImageUrlFetcher, SourceReadOptions } from '../core/ports';

export interface UrlImageFetcherOptions {
  /** IMAGE_URL_ALLOWED_HOSTS: `host`, `*.host`, `http://host`, `host:port`. Empty: every URL is refused. */
  allowedHosts: readonly string[];
  /** IMAGE_URL_ALLOWED_ADDRESSES: addresses allowed although special (tests: `127.0.0.1`). */
  allowedAddresses?: readonly string[];
  /** SOURCE_TIMEOUT_MS: the longest wait for the connection, for the answer's headers, and between two chunks of the body. */
  timeoutMs: number;
  /** Redirects followed at most (default 3); one more is SOURCE_UNREADABLE. */
  maxRedirects?: number;
  /**
   * Name resolution (default: the system resolver, dns.lookup). Every address it returns is
   * checked; only allowed ones are connected to. Tests give one to stand in for DNS answers.
   */
  resolve?: Resolver;
}

/** All the addresses of a host name (`family` 0: any, 4 or 6). */
export type Resolver = (
  hostname: string,
  family: number,
) => Promise<readonly { address: string; family: number }[]>;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

type Hop = { kind: 'body'; bytes: Buffer } | { kind: 'redirect'; location: string };

/** A short, safe description of a connection failure (no address, no path). */
function connectionFailure(host: string, e: unknown): SourceUnreadableError {
  const code = (e as { code?: unknown }).code;
  const c = typeof code === 'string' ? code : '';
  if (c === 'ENOTFOUND' || c === 'EAI_AGAIN' || c === 'ENODATA')
    return new SourceUnreadableError(`The image URL's host '${host}' could not be found.`);
  if (c === 'ECONNREFUSED')
    return new SourceUnreadableError(`The image URL's host '${host}' refused the connection.`);
  if (c.startsWith('ERR_TLS') || c.includes('CERT') || c.startsWith('UNABLE_TO') || c.includes('SELF_SIGNED'))
    return new SourceUnreadableError(
      `The image URL's host '${host}' presented a TLS certificate that could not be verified (${c}).`,
    );
  return new SourceUnreadableError(
    `The connection to the image URL's host '${host}' failed${c ? ` (${c})` : ''}.`,
  );
}

/** What the status line and headers decide: a redirect, a body to read (of `expected` bytes if announced), or an error. */
function judgeHeaders(
  res: IncomingMessage,
  maxBytes: number,
): { kind: 'redirect'; location: string } | { kind: 'read'; expected: number | null } | RecognitionError {
  const status = res.statusCode ?? 0;
  if (REDIRECTS.has(status)) {
    const location = res.headers.location;
    return location
      ? { kind: 'redirect', location }
      : new SourceUnreadableError(`The image URL answered HTTP ${status} without a Location to follow.`);
  }
  if (status === 404 || status === 410)
    return new SourceNotFoundError(`The image URL answered HTTP ${status}: there is no image there.`);
  if (status < 200 || status > 299)
    return new SourceUnreadableError(`The image URL answered HTTP ${status} instead of an image.`);
  const encoding = (res.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity')
    return new SourceUnreadableError(
      `The image URL answered with a ${encoding}-encoded body, which is not read (identity was asked for).`,
    );
  const announced = res.headers['content-length'];
  const expected = announced !== undefined && /^\d+$/.test(announced) ? Number(announced) : null;
  if (expected !== null && expected > maxBytes)
    return new PayloadTooLargeError(
      `The image at the URL is ${expected} bytes; the limit is ${maxBytes} bytes.`,
    );
  return { kind: 'read', expected };
}

/**
 * Fetches an image by URL under the allow-list and address rules of core/address-policy.ts.
 *
 * - The host is resolved by a `lookup` given to http(s).request: every address it returns is
 *   checked, refused ones are dropped (all refused: SOURCE_NOT_ALLOWED `address`), so the address
 *   connected to is one that was checked; the socket's remote address is checked again on connect.
 * - Redirects (301/302/303/307/308) are followed up to `maxRedirects`, each hop checked again.
 * - The body: refused before reading when Content-Length is over `maxBytes`, cut past `maxBytes`
 *   otherwise, refused when shorter than its Content-Length or compressed.
 * - Timeouts: connect (with DNS and TLS), first byte, and idle between chunks, each `timeoutMs`.
 *   `options.signal` aborts the request at once and rejects with the signal's reason.
 */
export class UrlImageFetcher implements ImageUrlFetcher {
  readonly policy: UrlPolicy;
  private readonly timeoutMs: number;
  private readonly maxRedirects: number;
  private readonly resolve: Resolver;

  constructor(options: UrlImageFetcherOptions) {
    this.policy = new UrlPolicy(options.allowedHosts, options.allowedAddresses ?? []);
    this.timeoutMs = options.timeoutMs;
    this.maxRedirects = options.maxRedirects ?? 3;
    this.resolve =
      options.resolve ?? ((hostname, family) => dns.promises.lookup(hostname, { all: true, family }));
  }

  async fetch(url: string, options: SourceReadOptions): Promise<Buffer> {
    let target = this.policy.checkUrl(url);
    for (let redirects = 0; ; redirects++) {
      options.signal?.throwIfAborted();
      const hop = await this.request(target, options);
      if (hop.kind === 'body') return hop.bytes;
      if (redirects >= this.maxRedirects)
        throw new SourceUnreadableError(
          `The image URL redirected more than ${this.maxRedirects} times (last from ${describeOrigin(target.url)}).`,
        );
      target = this.policy.checkUrl(hop.location, target.url);
    }
  }

  /** One GET: the body, or where a redirect points. */
  private request(target: AllowedUrl, options: SourceReadOptions): Promise<Hop> {
    const { url, host } = target;
    const { signal, maxBytes } = options;
    const policy = this.policy;
    const resolveHost = this.resolve;
    const timeoutMs = this.timeoutMs;
    const secure = url.protocol === 'https:';

    return new Promise<Hop>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      /** Set by the lookup or the connect guard; wins over the socket error it causes. */
      let refusal: SourceNotAllowedError | undefined;

      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        cleanup();
        req.destroy();
        reject(e);
      };
      const succeed = (hop: Hop) => {
        if (settled) return;
        settled = true;
        cleanup();
        req.destroy(); // a redirect's body is never read; a whole body leaves nothing to read
        resolve(hop);
      };
      const arm = (phase: 'connect' | 'first byte' | 'idle') => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          const what =
            phase === 'connect'
              ? `could not be reached within ${timeoutMs} ms`
              : phase === 'first byte'
                ? `did not answer within ${timeoutMs} ms`
                : `stopped sending the image for ${timeoutMs} ms`;
          fail(new SourceTimeoutError(`The image URL's host '${host}' ${what}.`));
        }, timeoutMs);
      };
      function onAbort() {
        // The caller's reason as given (as core/abortable.ts does): the request's TimeoutError.
        fail(
          (signal?.reason as Error | undefined) ??
            new SourceUnreadableError('Reading the image URL was cancelled.'),
        );
      }

      // Resolve the name ourselves so the address connected to is one we checked.
      const lookup: LookupFunction = (hostname, lookupOptions, callback) => {
        const family =
          lookupOptions.family === 'IPv4'
            ? 4
            : lookupOptions.family === 'IPv6'
              ? 6
              : (lookupOptions.family ?? 0);
        resolveHost(hostname, family).then(
          (addresses) => {
            const allowed = addresses.filter((a) => policy.addressAllowed(a.address));
            const first = allowed[0];
            if (!first) {
              const none = Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' });
              try {
                if (addresses[0]) policy.checkAddress(addresses[0].address, host);
              } catch (e) {
                refusal = e as SourceNotAllowedError;
              }
              callback(refusal ?? none, '', 0);
              return;
            }
            if (lookupOptions.all) callback(null, allowed);
            else callback(null, first.address, first.family);
          },
          (err: unknown) => {
            callback(err as NodeJS.ErrnoException, '', 0);
          },
        );
      };

      const client = secure ? https : http;
      const req = client.request({
        host,
        port: target.port,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: {
          Accept: 'image/*',
          'Accept-Encoding': 'identity',
          'User-Agent': 'image-recognition-api (image by URL)',
        },
        lookup,
        agent: false,
      });

      req.on('socket', (socket: Socket) => {
        socket.once('connect', () => {
          // Second guard: the peer we are actually connected to.
          const remote = socket.remoteAddress;
          if (remote === undefined || !policy.addressAllowed(remote)) {
            try {
              policy.checkAddress(remote ?? '', host, target.literal === null);
            } catch (e) {
              refusal = e as SourceNotAllowedError;
            }
            fail(
              refusal ??
                new SourceNotAllowedError(`The image URL's host '${host}' is not allowed.`, 'address'),
            );
            return;
          }
          if (!secure) arm('first byte');
        });
        if (secure)
          socket.once('secureConnect', () => {
            arm('first byte');
          });
      });

      req.on('error', (e) => {
        fail(refusal ?? (e instanceof RecognitionError ? e : connectionFailure(host, e)));
      });

      req.on('response', (res: IncomingMessage) => {
        const verdict = judgeHeaders(res, maxBytes);
        if (verdict instanceof Error) {
          fail(verdict);
          return;
        }
        if (verdict.kind === 'redirect') {
          succeed(verdict);
          return;
        }
        const { expected } = verdict;

        const chunks: Buffer[] = [];
        let received = 0;
        arm('idle');
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > maxBytes) {
            fail(
              new PayloadTooLargeError(`The image at the URL is larger than the limit of ${maxBytes} bytes.`),
            );
            return;
          }
          chunks.push(chunk);
          arm('idle');
        });
        const truncated = () =>
          new SourceUnreadableError(
            `The image URL's answer ended before the whole image arrived (${received} of ${expected ?? 'unknown'} bytes).`,
          );
        res.on('end', () => {
          if (!res.complete || (expected !== null && received !== expected)) {
            fail(truncated());
            return;
          }
          succeed({ kind: 'body', bytes: Buffer.concat(chunks, received) });
        });
        res.on('error', () => {
          fail(truncated());
        });
        res.on('close', () => {
          fail(truncated());
        });
      });

      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      arm('connect');
      req.end();
    });
  }
}

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { UrlImageFetcher, type UrlImageFetcherOptions } from '../../lambda/src/adapters/url-image-fetcher';
import {
  InvalidParameterError,
  PayloadTooLargeError,
  SourceNotAllowedError,
  SourceNotFoundError,
  SourceTimeoutError,
  SourceUnreadableError,
} from '../../lambda/src/core/errors';
import { rejectionOf } from '../support/rejection';
import { BODY_SECRET, startUrlImageServer, type UrlImageServer } from '../support/url-image-server';

// Images by URL ({"url": …}): the fetcher against real HTTP servers on 127.0.0.1. Loopback is
// refused like any private address unless IMAGE_URL_ALLOWED_ADDRESSES lists it, which these tests
// do (the test-only escape) except where they check the address rule itself.

jest.setTimeout(10_000);

const DOG = readFileSync(path.join(__dirname, '../fixtures/images/dog.jpg'));
const MAX = 10_000_000;

let server: UrlImageServer;
let other: UrlImageServer;

beforeEach(async () => {
  [server, other] = await Promise.all([startUrlImageServer(DOG), startUrlImageServer(DOG)]);
});
afterEach(async () => {
  await Promise.all([server.close(), other.close()]);
});

/** A fetcher that allows plain http to the test server and loopback addresses. */
function localFetcher(extra: Partial<UrlImageFetcherOptions> = {}): UrlImageFetcher {
  return new UrlImageFetcher({
    allowedHosts: [`http://127.0.0.1:${server.port}`],
    allowedAddresses: ['127.0.0.1'],
    timeoutMs: 2000,
    ...extra,
  });
}

/** The refusal's reason, checking it is a SOURCE_NOT_ALLOWED and that nothing was requested. */
async function refusal(fetcher: UrlImageFetcher, url: string): Promise<{ reason: unknown; message: string }> {
  const e = await rejectionOf(fetcher.fetch(url, { maxBytes: MAX }));
  expect(e).toBeInstanceOf(SourceNotAllowedError);
  expect(server.requests).toEqual([]);
  expect(other.requests).toEqual([]);
  return { reason: reasonOf(e), message: e.message };
}

/** SOURCE_NOT_ALLOWED's details.reason (undefined for any other error). */
function reasonOf(e: Error): unknown {
  return e instanceof SourceNotAllowedError ? e.details.reason : undefined;
}

describe('allowed URLs', () => {
  test('fetches the photo from a listed http host on a listed address', async () => {
    const bytes = await localFetcher().fetch(`${server.origin}/image`, { maxBytes: MAX });
    expect(bytes.equals(DOG)).toBe(true);
    expect(server.requests).toEqual(['/image']);
  });

  test('reads a chunked answer without Content-Length', async () => {
    const bytes = await localFetcher().fetch(`${server.origin}/chunked`, { maxBytes: MAX });
    expect(bytes.equals(DOG)).toBe(true);
  });

  test('a body of exactly maxBytes is read', async () => {
    const bytes = await localFetcher().fetch(`${server.origin}/chunked`, { maxBytes: DOG.length });
    expect(bytes.length).toBe(DOG.length);
  });

  test('follows 3 redirects on allowed hosts', async () => {
    const bytes = await localFetcher().fetch(`${server.origin}/redirect/3`, { maxBytes: MAX });
    expect(bytes.equals(DOG)).toBe(true);
    expect(server.requests).toEqual(['/redirect/3', '/redirect/2', '/redirect/1', '/redirect/0']);
  });

  test('a host allowed by name resolves through the checked lookup to an allowed address', async () => {
    const fetcher = localFetcher({ allowedHosts: [`http://localhost:${server.port}`] });
    const bytes = await fetcher.fetch(`http://LOCALHOST.:${server.port}/image`, { maxBytes: MAX });
    expect(bytes.equals(DOG)).toBe(true);
  });
});

describe('refusals: nothing is fetched', () => {
  test('off by default: an empty allow-list refuses every URL', async () => {
    const e = await refusal(localFetcher({ allowedHosts: [] }), `${server.origin}/image`);
    expect(e.reason).toBe('disabled');
  });

  test('a host not on the list', async () => {
    const e = await refusal(localFetcher(), `http://localhost:${server.port}/image?token=s3cr3t`);
    expect(e.reason).toBe('host-not-allowed');
    expect(e.message).toContain("'localhost'");
    expect(e.message).not.toContain('s3cr3t');
  });

  test('https only, unless the entry says http://', async () => {
    const fetcher = localFetcher({ allowedHosts: [`127.0.0.1:${server.port}`] });
    expect((await refusal(fetcher, `${server.origin}/image`)).reason).toBe('scheme');
    expect((await refusal(fetcher, `ftp://127.0.0.1:${server.port}/image`)).reason).toBe('scheme');
    expect((await refusal(fetcher, `file:///etc/passwd`)).reason).toBe('scheme');
  });

  test('a port the entry does not name', async () => {
    const fetcher = localFetcher({ allowedHosts: ['http://127.0.0.1'] });
    expect((await refusal(fetcher, `${server.origin}/image`)).reason).toBe('port');
  });

  test('user name and password in the URL, never echoed', async () => {
    const e = await refusal(localFetcher(), `http://alice:hunter2@127.0.0.1:${server.port}/image`);
    expect(e.reason).toBe('userinfo');
    expect(e.message).not.toMatch(/alice|hunter2/);
  });

  test('an IP-literal host that is not listed, however it is spelt', async () => {
    const fetcher = localFetcher({ allowedHosts: [`http://localhost:${server.port}`] });
    for (const host of ['127.0.0.1', '2130706433', '0x7f.1', '[::ffff:127.0.0.1]']) {
      const e = await refusal(fetcher, `http://${host}:${server.port}/image`);
      expect(e.reason).toBe('host-not-allowed');
    }
  });

  test('a host allowed by name that resolves to loopback, without the address escape', async () => {
    const fetcher = localFetcher({ allowedHosts: [`http://localhost:${server.port}`], allowedAddresses: [] });
    const e = await refusal(fetcher, `http://localhost:${server.port}/image`);
    expect(e.reason).toBe('address');
    expect(e.message).toMatch(/'localhost' resolves to a loopback address/);
    expect(e.message).not.toContain('127.0.0.1');
  });

  test('a listed IP literal is still subject to the address rule', async () => {
    const fetcher = localFetcher({ allowedAddresses: [] });
    expect((await refusal(fetcher, `${server.origin}/image`)).reason).toBe('address');
  });

  test('the cloud metadata address 169.254.169.254', async () => {
    const unlisted = localFetcher();
    const metadata = 'http://169.254.169.254/latest/meta-data/iam/security-credentials/';
    expect((await refusal(unlisted, metadata)).reason).toBe('host-not-allowed');
    const listed = localFetcher({ allowedHosts: ['http://169.254.169.254'] });
    const e = await refusal(listed, metadata);
    expect(e.reason).toBe('address');
    expect(e.message).toContain('link-local');
  });

  test('IPv4-mapped IPv6 loopback ::ffff:127.0.0.1, even when listed as a host', async () => {
    const fetcher = localFetcher({
      allowedHosts: [`http://[::ffff:127.0.0.1]:${server.port}`],
      allowedAddresses: [],
    });
    const e = await refusal(fetcher, `http://[::ffff:127.0.0.1]:${server.port}/image`);
    expect(e.reason).toBe('address');
    expect(e.message).toContain('loopback');
  });

  test('a string that is not a URL is an invalid parameter', async () => {
    const e = await rejectionOf(localFetcher().fetch('not a url', { maxBytes: MAX }));
    expect(e).toBeInstanceOf(InvalidParameterError);
  });
});

describe('DNS answers: every resolved address is checked, only allowed ones are connected to', () => {
  const asked: string[] = [];
  /** A fetcher for `images.test` whose name resolves to `addresses`. */
  function resolving(addresses: string[], allowedAddresses = ['127.0.0.1']): UrlImageFetcher {
    asked.length = 0;
    return localFetcher({
      allowedHosts: [`http://images.test:${server.port}`],
      allowedAddresses,
      timeoutMs: 1000,
      resolve: (hostname) => {
        asked.push(hostname);
        return Promise.resolve(
          addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
        );
      },
    });
  }
  const url = () => `http://images.test:${server.port}/image`;

  test.each([
    ['10.0.0.7', 'a private address'],
    ['192.168.1.20', 'a private address'],
    ['100.64.0.1', 'a shared (carrier-grade NAT) address'],
    ['169.254.169.254', 'a link-local address'],
    ['::ffff:127.0.0.1', 'a loopback address'],
    ['fd00::1', 'a unique-local address'],
    ['0.0.0.0', 'a this-network address'],
  ])('a name resolving to %s is refused (%s), without connecting', async (address, what) => {
    const started = Date.now();
    const e = await refusal(resolving([address], []), url());
    expect(asked).toEqual(['images.test']);
    expect(e.reason).toBe('address');
    expect(e.message).toContain(`'images.test' resolves to ${what}`);
    expect(e.message).not.toContain(address);
    expect(Date.now() - started).toBeLessThan(500); // refused, not a connect attempt that timed out
  });

  test('a private answer next to an allowed one: only the allowed address is connected to', async () => {
    const bytes = await resolving(['10.0.0.7', '127.0.0.1']).fetch(url(), { maxBytes: MAX });
    expect(bytes.equals(DOG)).toBe(true);
    expect(server.requests).toEqual(['/image']);
  });

  test('a name that does not resolve is unreadable', async () => {
    const e = await rejectionOf(resolving([]).fetch(url(), { maxBytes: MAX }));
    expect(e).toBeInstanceOf(SourceUnreadableError);
    expect(e.message).toMatch(/could not be found/);
  });
});

describe('redirects', () => {
  test('to a host that is not allowed: refused before it is requested', async () => {
    const fetcher = localFetcher();
    for (const target of [
      `http://127.0.0.1:${other.port}/image`, // same address, another port: not listed
      `http://localhost:${server.port}/image`,
      'http://169.254.169.254/latest/meta-data/',
      `http://user:pw@127.0.0.1:${server.port}/image`,
    ]) {
      const location = encodeURIComponent(target);
      const e = await rejectionOf(
        fetcher.fetch(`${server.origin}/to?location=${location}`, { maxBytes: MAX }),
      );
      expect(e).toBeInstanceOf(SourceNotAllowedError);
      expect(reasonOf(e)).toBe('redirect');
      expect(e.message).not.toContain('pw@');
    }
    expect(other.requests).toEqual([]);
    expect(server.requests.every((p) => p === '/to')).toBe(true);
  });

  test('a redirect to a listed IP literal is still checked against the address rule', async () => {
    const fetcher = localFetcher({
      allowedHosts: [`http://127.0.0.1:${server.port}`, `http://127.0.0.2:${other.port}`],
    });
    const location = encodeURIComponent(`http://127.0.0.2:${other.port}/image`);
    const e = await rejectionOf(fetcher.fetch(`${server.origin}/to?location=${location}`, { maxBytes: MAX }));
    expect(e).toBeInstanceOf(SourceNotAllowedError);
    expect(reasonOf(e)).toBe('address');
    expect(other.requests).toEqual([]);
  });

  test('a redirect to another allowed host is followed', async () => {
    const fetcher = localFetcher({
      allowedHosts: [`http://127.0.0.1:${server.port}`, `http://localhost:${other.port}`],
      allowedAddresses: ['127.0.0.1'],
    });
    // Allowed by name, resolves to 127.0.0.1 which is allowed: followed.
    const ok = await fetcher.fetch(
      `${server.origin}/to?location=${encodeURIComponent(`http://localhost:${other.port}/image`)}`,
      { maxBytes: MAX },
    );
    expect(ok.equals(DOG)).toBe(true);
    expect(other.requests).toEqual(['/image']);
  });

  test('more than 3 redirects is unreadable, and the 4th target is not requested', async () => {
    const e = await rejectionOf(localFetcher().fetch(`${server.origin}/redirect/4`, { maxBytes: MAX }));
    expect(e).toBeInstanceOf(SourceUnreadableError);
    expect(e.message).toMatch(/more than 3 times/);
    expect(server.requests).toEqual(['/redirect/4', '/redirect/3', '/redirect/2', '/redirect/1']);
  });
});

describe('answers that are not the image', () => {
  test('404 and 410 are not found', async () => {
    for (const status of [404, 410]) {
      const e = await rejectionOf(
        localFetcher().fetch(`${server.origin}/status/${status}`, { maxBytes: MAX }),
      );
      expect(e).toBeInstanceOf(SourceNotFoundError);
    }
  });

  test('500 is unreadable, with the status and without the body', async () => {
    const e = await rejectionOf(localFetcher().fetch(`${server.origin}/status/500`, { maxBytes: MAX }));
    expect(e).toBeInstanceOf(SourceUnreadableError);
    expect(e.message).toContain('500');
    expect(e.message).not.toContain(BODY_SECRET);
  });

  test('a compressed body it did not ask for is unreadable', async () => {
    const e = await rejectionOf(localFetcher().fetch(`${server.origin}/gzip`, { maxBytes: MAX }));
    expect(e).toBeInstanceOf(SourceUnreadableError);
  });
});

describe('size', () => {
  test('Content-Length over the limit: refused from the headers, no body needed', async () => {
    const closed = server.nextEarlyClose();
    const started = Date.now();
    const e = await rejectionOf(
      localFetcher({ timeoutMs: 5000 }).fetch(`${server.origin}/announce/50000000`, { maxBytes: 1_000_000 }),
    );
    expect(e).toBeInstanceOf(PayloadTooLargeError);
    expect(e.message).toContain('50000000');
    // The server has sent no body byte and never would: the answer came from the headers alone.
    expect(Date.now() - started).toBeLessThan(2000);
    expect(server.bodyBytesWritten).toBe(0);
    await closed; // and the connection was dropped
  });

  test('no Content-Length and a body past the limit: the stream is cut', async () => {
    const closed = server.nextEarlyClose();
    const e = await rejectionOf(localFetcher().fetch(`${server.origin}/endless`, { maxBytes: 100_000 }));
    expect(e).toBeInstanceOf(PayloadTooLargeError);
    await closed;
    const written = server.bodyBytesWritten;
    await new Promise((r) => setTimeout(r, 100));
    expect(server.bodyBytesWritten).toBe(written); // the server stopped writing
  });

  test('a body shorter than its Content-Length is unreadable', async () => {
    const e = await rejectionOf(localFetcher().fetch(`${server.origin}/truncated`, { maxBytes: MAX }));
    expect(e).toBeInstanceOf(SourceUnreadableError);
    expect(e.message).toMatch(/ended before the whole image arrived/);
  });
});

describe('time', () => {
  const TIMEOUT = 300;

  test('a server that sends headers and then nothing times out after about timeoutMs', async () => {
    const started = Date.now();
    const e = await rejectionOf(
      localFetcher({ timeoutMs: TIMEOUT }).fetch(`${server.origin}/stall`, { maxBytes: MAX }),
    );
    const elapsed = Date.now() - started;
    expect(e).toBeInstanceOf(SourceTimeoutError);
    expect(e.message).toMatch(/stopped sending/);
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT - 20);
    expect(elapsed).toBeLessThan(TIMEOUT + 700);
  });

  test('the limit is between chunks, not on the whole transfer: a slow steady server is read', async () => {
    const started = Date.now();
    const bytes = await localFetcher({ timeoutMs: TIMEOUT }).fetch(`${server.origin}/trickle/100`, {
      maxBytes: MAX,
    });
    expect(bytes.equals(DOG)).toBe(true);
    expect(Date.now() - started).toBeGreaterThan(TIMEOUT + 200); // longer than one timeout in all
  });

  test('a name that never resolves times out as a connect', async () => {
    const started = Date.now();
    const fetcher = localFetcher({
      allowedHosts: [`http://images.test:${server.port}`],
      timeoutMs: TIMEOUT,
      resolve: () => new Promise(() => undefined),
    });
    const e = await rejectionOf(fetcher.fetch(`http://images.test:${server.port}/image`, { maxBytes: MAX }));
    expect(e).toBeInstanceOf(SourceTimeoutError);
    expect(e.message).toMatch(/could not be reached within 300 ms/);
    expect(Date.now() - started).toBeLessThan(TIMEOUT + 700);
  });

  test('a server that never answers times out after about timeoutMs', async () => {
    const started = Date.now();
    const e = await rejectionOf(
      localFetcher({ timeoutMs: TIMEOUT }).fetch(`${server.origin}/silent`, { maxBytes: MAX }),
    );
    expect(e).toBeInstanceOf(SourceTimeoutError);
    expect(e.message).toMatch(/did not answer/);
    expect(Date.now() - started).toBeLessThan(TIMEOUT + 700);
  });

  test('the signal aborts the request at once with its reason', async () => {
    const controller = new AbortController();
    const reason = new Error('the request ran out of time');
    const closed = server.nextEarlyClose();
    const started = Date.now();
    setTimeout(() => {
      controller.abort(reason);
    }, 100);
    const e = await rejectionOf(
      localFetcher({ timeoutMs: 5000 }).fetch(`${server.origin}/stall`, {
        maxBytes: MAX,
        signal: controller.signal,
      }),
    );
    expect(e).toBe(reason);
    expect(Date.now() - started).toBeLessThan(1000);
    await closed; // the connection was destroyed
  });

  test('an already aborted signal fetches nothing', async () => {
    const reason = new Error('aborted before');
    const e = await rejectionOf(
      localFetcher().fetch(`${server.origin}/image`, { maxBytes: MAX, signal: AbortSignal.abort(reason) }),
    );
    expect(e).toBe(reason);
    expect(server.requests).toEqual([]);
  });
});

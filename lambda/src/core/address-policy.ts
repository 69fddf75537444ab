/**
 * The rules an image URL must pass before anything is fetched (IMAGE_URL_ALLOWED_HOSTS and
 * IMAGE_URL_ALLOWED_ADDRESSES), as pure functions: allow-list entries, URL checks and the
 * classification of IP addresses into the ranges a server-side fetch must never reach (loopback,
 * private, link-local, metadata, multicast, reserved, …). No I/O: the adapter
 * (adapters/url-image-fetcher.ts) resolves names and asks `checkAddress` about every address it
 * would connect to.
 */
import { InvalidParameterError, SourceNotAllowedError } from './errors';

/** An IPv4 (4 bytes) or IPv6 (16 bytes) address. */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
}

const IPV4_PART = /^(0|[1-9]\d{0,2})$/;
const IPV6_GROUP = /^[0-9a-f]{1,4}$/i;

function parseIPv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (const [i, part] of parts.entries()) {
    if (!IPV4_PART.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    bytes[i] = n;
  }
  return bytes;
}

function parseIPv6Groups(part: string): number[] | null {
  if (part === '') return [];
  const groups: number[] = [];
  const texts = part.split(':');
  for (const [i, text] of texts.entries()) {
    if (i === texts.length - 1 && text.includes('.')) {
      const v4 = parseIPv4(text);
      if (!v4) return null;
      groups.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
    } else {
      if (!IPV6_GROUP.test(text)) return null;
      groups.push(parseInt(text, 16));
    }
  }
  return groups;
}

function parseIPv6(text: string): Uint8Array | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = parseIPv6Groups(halves[0] ?? '');
  const tail = halves.length === 2 ? parseIPv6Groups(halves[1] ?? '') : [];
  if (!head || !tail) return null;
  // A dotted IPv4 tail is only allowed at the very end.
  if (halves.length === 2 && (halves[0] ?? '').includes('.')) return null;
  const count = head.length + tail.length;
  if (halves.length === 2 ? count > 7 : count !== 8) return null;
  const groups = [...head, ...new Array<number>(8 - count).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  for (const [i, g] of groups.entries()) {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  }
  return bytes;
}

/**
 * Parses a dotted-quad IPv4 address (no leading zeros, no shorthand) or an IPv6 address (with `::`,
 * an embedded dotted IPv4 tail, optional `[brackets]` and `%zone`). Null when it is neither.
 */
export function parseIp(text: string): IpAddress | null {
  let t = text.trim();
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  if (t.includes(':')) {
    const zone = t.indexOf('%');
    const bytes = parseIPv6(zone >= 0 ? t.slice(0, zone) : t);
    return bytes ? { family: 6, bytes } : null;
  }
  const bytes = parseIPv4(t);
  return bytes ? { family: 4, bytes } : null;
}

function startsWith(bytes: Uint8Array, prefix: readonly number[], bits: number): boolean {
  for (let i = 0; i * 8 < bits; i++) {
    const take = Math.min(8, bits - i * 8);
    const mask = (0xff << (8 - take)) & 0xff;
    if (((bytes[i] ?? 0) & mask) !== ((prefix[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** The IPv4 address carried in an IPv4-mapped (::ffff:0:0/96) or NAT64 (64:ff9b::/96) IPv6 address. */
export function embeddedIPv4(ip: IpAddress): IpAddress | null {
  if (ip.family !== 6) return null;
  const mapped = startsWith(ip.bytes, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 96);
  const nat64 = startsWith(ip.bytes, [0, 0x64, 0xff, 0x9b], 96);
  return mapped || nat64 ? { family: 4, bytes: ip.bytes.slice(12) } : null;
}

type Range = readonly [prefix: readonly number[], bits: number, name: string];

// IANA IPv4 Special-Purpose Address Registry (RFC 6890 and successors); the first match names it.
const IPV4_RANGES: readonly Range[] = [
  [[0], 8, 'this-network'],
  [[10], 8, 'private'],
  [[100, 64], 10, 'shared'],
  [[127], 8, 'loopback'],
  [[169, 254], 16, 'link-local'],
  [[172, 16], 12, 'private'],
  [[192, 0, 0], 24, 'protocol-assignments'],
  [[192, 0, 2], 24, 'documentation'],
  [[192, 88, 99], 24, '6to4-relay'],
  [[192, 168], 16, 'private'],
  [[198, 18], 15, 'benchmarking'],
  [[198, 51, 100], 24, 'documentation'],
  [[203, 0, 113], 24, 'documentation'],
  [[224], 4, 'multicast'],
  [[255, 255, 255, 255], 32, 'broadcast'],
  [[240], 4, 'reserved'],
];

// IPv6: named special ranges first; then anything outside global unicast 2000::/3 is reserved.
const IPV6_RANGES: readonly Range[] = [
  [[], 128, 'unspecified'],
  [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 128, 'loopback'],
  [[0xfe, 0x80], 10, 'link-local'],
  [[0xfe, 0xc0], 10, 'site-local'],
  [[0xfc], 7, 'unique-local'],
  [[0xff], 8, 'multicast'],
  [[0x20, 0x01, 0x0d, 0xb8], 32, 'documentation'],
  [[0x3f, 0xff], 20, 'documentation'],
  [[0x20, 0x01], 23, 'protocol-assignments'], // includes Teredo 2001::/32 and ORCHID
  [[0x20, 0x02], 16, '6to4'],
];

/**
 * The special-purpose range `ip` lies in (`loopback`, `private`, `link-local`, `shared` (CGNAT
 * 100.64/10), `unique-local`, `multicast`, `broadcast`, `this-network`, `unspecified`, `reserved`,
 * `documentation`, …), or null for an ordinary public unicast address. IPv4-mapped and NAT64
 * IPv6 addresses are judged by the IPv4 address they carry.
 */
export function specialRange(ip: IpAddress): string | null {
  const v4 = embeddedIPv4(ip);
  if (v4) return specialRange(v4);
  const ranges = ip.family === 4 ? IPV4_RANGES : IPV6_RANGES;
  for (const [prefix, bits, name] of ranges) if (startsWith(ip.bytes, prefix, bits)) return name;
  if (ip.family === 6 && !startsWith(ip.bytes, [0x20], 3)) return 'reserved';
  return null;
}

/** How a message names an address of a range (default: `a <range> address`). */
const RANGE_WORDS: Readonly<Record<string, string>> = {
  unknown: 'an address that could not be read',
  unspecified: 'an unspecified address',
  shared: 'a shared (carrier-grade NAT) address',
  'protocol-assignments': 'a reserved protocol address',
};

/** One key per address: IPv4-mapped IPv6 addresses share their IPv4 address's key. */
export function addressKey(ip: IpAddress): string {
  const v4 =
    ip.family === 6 && startsWith(ip.bytes, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 96)
      ? ip.bytes.slice(12)
      : ip.bytes;
  return Array.from(v4, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** One IMAGE_URL_ALLOWED_HOSTS entry. */
export interface HostRule {
  /** Lower-case ASCII (punycode) host without a trailing dot; IPv6 literals in [brackets]. */
  readonly host: string;
  /** `*.host`: any subdomain of `host`, at any depth, but not `host` itself. */
  readonly wildcard: boolean;
  /** `http://host`: plain http is allowed too (https always is). */
  readonly http: boolean;
  /** The one port allowed; null: only the scheme's default port (443, or 80 for http). */
  readonly port: number | null;
  /** The entry names an IP address. */
  readonly literal: boolean;
}

function normaliseHost(hostname: string): string {
  const h = hostname.toLowerCase();
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

function hostLiteral(host: string): IpAddress | null {
  return host.startsWith('[') ? parseIp(host) : /^[\d.]+$/.test(host) ? parseIp(host) : null;
}

/**
 * Parses an allow-list entry: `example.com`, `*.example.com`, `http://example.com`,
 * `http://127.0.0.1:8080`, `https://example.com:8443`, `[2001:db8::1]`. Throws a plain Error
 * (a configuration mistake, found at start-up) for anything else.
 */
export function parseHostRule(entry: string): HostRule {
  const bad = (why: string) =>
    new Error(`IMAGE_URL_ALLOWED_HOSTS entry '${entry}' ${why}; use host, *.host, http://host or host:port.`);
  let rest = entry.trim();
  let scheme = 'https';
  const schemeMatch = /^([a-z][a-z0-9+.-]*):\/\//i.exec(rest);
  if (schemeMatch) {
    scheme = (schemeMatch[1] ?? '').toLowerCase();
    if (scheme !== 'http' && scheme !== 'https') throw bad('has a scheme other than http or https');
    rest = rest.slice(schemeMatch[0].length);
  }
  const wildcard = rest.startsWith('*.');
  if (wildcard) rest = rest.slice(2);
  if (rest.endsWith('/')) rest = rest.slice(0, -1);
  if (rest === '' || /[/?#@*\\]/.test(rest)) throw bad('is not a host name');
  let url: URL;
  try {
    url = new URL(`${scheme}://${rest}`);
  } catch {
    throw bad('is not a host name');
  }
  const host = normaliseHost(url.hostname);
  const literal = hostLiteral(host) !== null;
  if (host === '' || (wildcard && literal)) throw bad('is not a host name');
  return { host, wildcard, http: scheme === 'http', port: url.port ? Number(url.port) : null, literal };
}

/** A URL that passed every rule that can be checked without resolving its host. */
export interface AllowedUrl {
  readonly url: URL;
  /** The host to connect to: no brackets, no trailing dot. */
  readonly host: string;
  readonly port: number;
  /** Set when the host is an IP address (already checked against the address rules). */
  readonly literal: IpAddress | null;
}

/** How a URL may be named in a message: scheme, host and port, never userinfo, path or query. */
export function describeOrigin(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

/**
 * The image-URL rules. Every refusal is a SourceNotAllowedError whose `details.reason` is one of
 * `disabled`, `scheme`, `userinfo`, `host-not-allowed`, `port`, `address`, `redirect`; a string
 * that is not an absolute URL is an InvalidParameterError('url').
 */
export class UrlPolicy {
  readonly rules: readonly HostRule[];
  private readonly allowedAddresses: ReadonlySet<string>;

  constructor(allowedHosts: readonly string[], allowedAddresses: readonly string[] = []) {
    this.rules = allowedHosts.filter((e) => e.trim() !== '').map(parseHostRule);
    this.allowedAddresses = new Set(
      allowedAddresses
        .filter((a) => a.trim() !== '')
        .map((a) => {
          const ip = parseIp(a);
          if (!ip) throw new Error(`IMAGE_URL_ALLOWED_ADDRESSES entry '${a}' is not an IP address.`);
          return addressKey(ip);
        }),
    );
  }

  /** False when the allow-list is empty: every URL is refused. */
  get enabled(): boolean {
    return this.rules.length > 0;
  }

  /**
   * Checks `input` (resolved against `redirectedFrom` when it is a redirect's Location) against
   * the scheme, userinfo, host, port and, for IP-literal hosts, address rules. On a redirect hop
   * every refusal but `address` has the reason `redirect`.
   */
  checkUrl(input: string, redirectedFrom?: URL): AllowedUrl {
    if (!this.enabled)
      throw new SourceNotAllowedError('Images by URL are not enabled on this server.', 'disabled');
    let url: URL;
    try {
      url = redirectedFrom ? new URL(input, redirectedFrom) : new URL(input);
    } catch {
      if (redirectedFrom)
        throw new SourceNotAllowedError(
          `The image URL on ${describeOrigin(redirectedFrom)} redirected to an address that is not a valid URL.`,
          'redirect',
        );
      throw new InvalidParameterError('url', 'The image URL is not a valid absolute URL.');
    }
    try {
      return this.checkParsed(url);
    } catch (e) {
      if (!redirectedFrom || !(e instanceof SourceNotAllowedError) || e.details.reason === 'address') throw e;
      throw new SourceNotAllowedError(
        `The image URL on ${describeOrigin(redirectedFrom)} redirected to a URL that is not allowed: ${e.message}`,
        'redirect',
      );
    }
  }

  private checkParsed(url: URL): AllowedUrl {
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new SourceNotAllowedError(
        `Only https image URLs are accepted, not ${url.protocol.slice(0, -1)}.`,
        'scheme',
      );
    if (url.username !== '' || url.password !== '')
      throw new SourceNotAllowedError(
        'Image URLs must not carry a user name or password (user:password@host).',
        'userinfo',
      );
    const host = normaliseHost(url.hostname);
    const literal = hostLiteral(host);
    const matching = this.rules.filter((r) =>
      r.wildcard ? !literal && host.endsWith(`.${r.host}`) : r.host === host,
    );
    const shown = `'${host}'`;
    if (matching.length === 0)
      throw new SourceNotAllowedError(
        literal
          ? `The image URL's host ${shown} is an IP address that is not on this server's list of allowed image hosts.`
          : `The image URL's host ${shown} is not on this server's list of allowed image hosts.`,
        'host-not-allowed',
      );
    const https = url.protocol === 'https:';
    const byScheme = matching.filter((r) => https || r.http);
    if (byScheme.length === 0)
      throw new SourceNotAllowedError(`Images from ${shown} are fetched over https only.`, 'scheme');
    const defaultPort = https ? 443 : 80;
    const port = url.port ? Number(url.port) : defaultPort;
    if (!byScheme.some((r) => port === (r.port ?? defaultPort)))
      throw new SourceNotAllowedError(`Port ${port} is not allowed for images from ${shown}.`, 'port');
    if (literal) this.checkAddress(host, host, false);
    const connectHost = host.startsWith('[') ? host.slice(1, -1) : host;
    return { url, host: connectHost, port, literal };
  }

  /**
   * Refuses (reason `address`) an address in a special-purpose range, unless it is listed in the
   * allowed addresses. `host` names it in the message; the address a name resolved to (`resolved`)
   * is not shown, only its kind.
   */
  checkAddress(address: string, host: string, resolved = true): void {
    const ip = parseIp(address);
    const range = ip ? (this.allowedAddresses.has(addressKey(ip)) ? null : specialRange(ip)) : 'unknown';
    if (range === null) return;
    const what = RANGE_WORDS[range] ?? `a ${range} address`;
    throw new SourceNotAllowedError(
      `The image URL's host '${host}' ${resolved ? 'resolves to' : 'is'} ${what}; images are fetched only from public addresses.`,
      'address',
    );
  }

  /** True when `address` may be connected to (see checkAddress). */
  addressAllowed(address: string): boolean {
    try {
      this.checkAddress(address, '', true);
      return true;
    } catch {
      return false;
    }
  }
}

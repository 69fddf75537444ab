import {
  addressKey,
  parseHostRule,
  parseIp,
  specialRange,
  UrlPolicy,
  type IpAddress,
} from '../../lambda/src/core/address-policy';
import { InvalidParameterError, SourceNotAllowedError } from '../../lambda/src/core/errors';

function ip(text: string): IpAddress {
  const parsed = parseIp(text);
  if (!parsed) throw new Error(`test address ${text} does not parse`);
  return parsed;
}

const range = (text: string) => specialRange(ip(text));

/** The reason `fn` is refused with; fails when it is not a SourceNotAllowedError. */
function reasonOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SourceNotAllowedError);
    return (e as SourceNotAllowedError).details.reason;
  }
  throw new Error('expected a refusal');
}

describe('parseIp', () => {
  test.each([
    ['127.0.0.1', 4, [127, 0, 0, 1]],
    ['255.255.255.255', 4, [255, 255, 255, 255]],
    ['::1', 6, [...new Array<number>(15).fill(0), 1]],
    ['::', 6, new Array<number>(16).fill(0)],
    ['[::ffff:127.0.0.1]', 6, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]],
    ['::ffff:7f00:1', 6, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]],
    ['fe80::1%eth0', 6, [0xfe, 0x80, ...new Array<number>(13).fill(0), 1]],
    ['2001:DB8:0:0:0:0:0:1', 6, [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 1]],
    ['1:2:3:4:5:6:7::', 6, [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0]],
  ])('%s', (text, family, bytes) => {
    const parsed = ip(text);
    expect(parsed.family).toBe(family);
    expect(Array.from(parsed.bytes)).toEqual(bytes);
  });

  test.each([
    '',
    'localhost',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4', // octal-looking: ambiguous, refused
    '0x7f.0.0.1',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '12345::',
    '::1.2.3.4.5',
    '1.2.3.4::',
    ':1::',
  ])('not an address: %j', (text) => {
    expect(parseIp(text)).toBeNull();
  });
});

describe('specialRange', () => {
  test.each([
    // [address, range]: boundaries on both sides of each IPv4 range
    ['0.0.0.0', 'this-network'],
    ['0.255.255.255', 'this-network'],
    ['1.0.0.0', null],
    ['9.255.255.255', null],
    ['10.0.0.0', 'private'],
    ['10.255.255.255', 'private'],
    ['11.0.0.0', null],
    ['100.63.255.255', null],
    ['100.64.0.0', 'shared'],
    ['100.127.255.255', 'shared'],
    ['100.128.0.0', null],
    ['126.255.255.255', null],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['128.0.0.0', null],
    ['169.253.255.255', null],
    ['169.254.169.254', 'link-local'],
    ['169.254.0.1', 'link-local'],
    ['169.255.0.0', null],
    ['172.15.255.255', null],
    ['172.16.0.0', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.0', null],
    ['192.0.0.8', 'protocol-assignments'],
    ['192.0.2.1', 'documentation'],
    ['192.0.3.0', null],
    ['192.88.99.1', '6to4-relay'],
    ['192.167.255.255', null],
    ['192.168.0.0', 'private'],
    ['192.168.255.255', 'private'],
    ['192.169.0.0', null],
    ['198.17.255.255', null],
    ['198.18.0.0', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['198.20.0.0', null],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['223.255.255.255', null],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.255', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.254', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    ['8.8.8.8', null],
    ['93.184.216.34', null],
    // IPv6
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['::2', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:8.8.8.8', null],
    ['::127.0.0.1', 'reserved'], // IPv4-compatible (deprecated)
    ['64:ff9b::7f00:1', 'loopback'], // NAT64 of 127.0.0.1
    ['64:ff9b::a9fe:a9fe', 'link-local'], // NAT64 of 169.254.169.254
    ['64:ff9b::808:808', null], // NAT64 of 8.8.8.8
    ['64:ff9b:1::1', 'reserved'],
    ['fe80::1', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['fec0::1', 'site-local'],
    ['fc00::1', 'unique-local'],
    ['fdff:ffff::1', 'unique-local'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['2001::1', 'protocol-assignments'], // Teredo
    ['2002:7f00:1::1', '6to4'],
    ['100::1', 'reserved'], // discard-only
    ['4000::1', 'reserved'],
    ['1fff:ffff::1', 'reserved'],
    ['2001:4860:4860::8888', null],
    ['2606:4700:4700::1111', null],
    ['2a00:1450:4001::200e', null],
    ['2001:200::1', null],
  ])('%s is %s', (text, expected) => {
    expect(range(text)).toBe(expected);
  });

  test('IPv4-mapped addresses share their IPv4 address key', () => {
    expect(addressKey(ip('::ffff:127.0.0.1'))).toBe(addressKey(ip('127.0.0.1')));
    expect(addressKey(ip('::1'))).not.toBe(addressKey(ip('0.0.0.1')));
  });
});

describe('parseHostRule', () => {
  test.each([
    ['example.com', { host: 'example.com', wildcard: false, http: false, port: null, literal: false }],
    ['Example.COM.', { host: 'example.com', wildcard: false, http: false, port: null, literal: false }],
    ['*.example.com', { host: 'example.com', wildcard: true, http: false, port: null, literal: false }],
    ['http://example.com', { host: 'example.com', wildcard: false, http: true, port: null, literal: false }],
    [
      'http://example.com:80/',
      { host: 'example.com', wildcard: false, http: true, port: null, literal: false },
    ],
    [
      'https://example.com:443',
      { host: 'example.com', wildcard: false, http: false, port: null, literal: false },
    ],
    ['example.com:8443', { host: 'example.com', wildcard: false, http: false, port: 8443, literal: false }],
    ['http://127.0.0.1:8080', { host: '127.0.0.1', wildcard: false, http: true, port: 8080, literal: true }],
    ['[2001:db8::1]', { host: '[2001:db8::1]', wildcard: false, http: false, port: null, literal: true }],
    [
      'bücher.example',
      { host: 'xn--bcher-kva.example', wildcard: false, http: false, port: null, literal: false },
    ],
  ])('%s', (entry, rule) => {
    expect(parseHostRule(entry)).toEqual(rule);
  });

  test.each([
    'ftp://example.com',
    'https://user@example.com',
    'https://example.com/path',
    'example.com?x=1',
    '*.127.0.0.1',
    '*example.com',
    'a.*.example.com',
    '*.',
    'http://',
    'exa mple.com',
  ])('refuses the entry %j', (entry) => {
    expect(() => parseHostRule(entry)).toThrow(/IMAGE_URL_ALLOWED_HOSTS entry/);
  });
});

describe('UrlPolicy.checkUrl', () => {
  const policy = new UrlPolicy(
    [
      'images.example.com',
      '*.cdn.example.net',
      'http://legacy.example.org',
      'ports.example.com:8443',
      '93.184.216.34',
    ],
    [],
  );
  const reason = (url: string) => reasonOf(() => policy.checkUrl(url));

  test('off by default: no entries refuses everything', () => {
    expect(new UrlPolicy([]).enabled).toBe(false);
    expect(new UrlPolicy(['', ' ']).enabled).toBe(false);
    expect(reasonOf(() => new UrlPolicy([]).checkUrl('https://images.example.com/a.jpg'))).toBe('disabled');
  });

  test('exact hosts, case-insensitive, with or without the trailing dot', () => {
    for (const url of [
      'https://images.example.com/a.jpg',
      'https://IMAGES.Example.com./a.jpg?token=x',
      'https://images.example.com:443/a.jpg',
    ]) {
      const allowed = policy.checkUrl(url);
      expect(allowed.host).toBe('images.example.com');
      expect(allowed.port).toBe(443);
      expect(allowed.literal).toBeNull();
    }
    expect(reason('https://example.com/a.jpg')).toBe('host-not-allowed');
    expect(reason('https://images.example.com.evil.test/a.jpg')).toBe('host-not-allowed');
    expect(reason('https://evilimages.example.com/a.jpg')).toBe('host-not-allowed');
    expect(reason('https://sub.images.example.com/a.jpg')).toBe('host-not-allowed');
  });

  test('*.domain: subdomains at any depth, not the domain itself', () => {
    expect(policy.checkUrl('https://a.cdn.example.net/x').host).toBe('a.cdn.example.net');
    expect(policy.checkUrl('https://a.b.cdn.example.net/x').host).toBe('a.b.cdn.example.net');
    expect(reason('https://cdn.example.net/x')).toBe('host-not-allowed');
    expect(reason('https://evilcdn.example.net/x')).toBe('host-not-allowed');
  });

  test('IDN hosts match through their punycode form', () => {
    const idn = new UrlPolicy(['bücher.example']);
    expect(idn.checkUrl('https://BÜCHER.example/x').host).toBe('xn--bcher-kva.example');
    expect(idn.checkUrl('https://xn--bcher-kva.example/x').host).toBe('xn--bcher-kva.example');
  });

  test('https only, unless the entry says http://', () => {
    expect(reason('http://images.example.com/a.jpg')).toBe('scheme');
    expect(policy.checkUrl('http://legacy.example.org/a.jpg').port).toBe(80);
    expect(policy.checkUrl('https://legacy.example.org/a.jpg').port).toBe(443);
    for (const url of [
      'ftp://images.example.com/a',
      'file:///etc/passwd',
      'data:image/png;base64,AAAA',
      'gopher://x/',
    ])
      expect(reason(url)).toBe('scheme');
  });

  test('ports: the default port only, unless the entry names one', () => {
    expect(reason('https://images.example.com:8443/a.jpg')).toBe('port');
    expect(reason('http://legacy.example.org:8080/a.jpg')).toBe('port');
    expect(reason('http://legacy.example.org:443/a.jpg')).toBe('port');
    expect(policy.checkUrl('https://ports.example.com:8443/a.jpg').port).toBe(8443);
    expect(reason('https://ports.example.com/a.jpg')).toBe('port');
  });

  test('userinfo is refused and never echoed', () => {
    for (const url of [
      'https://alice:hunter2@images.example.com/a.jpg',
      'https://tok3n@images.example.com/',
    ]) {
      expect(reason(url)).toBe('userinfo');
      try {
        policy.checkUrl(url);
      } catch (e) {
        expect((e as Error).message).not.toMatch(/alice|hunter2|tok3n/);
      }
    }
  });

  test('IP-literal hosts only when listed, and then still under the address rule', () => {
    for (const host of ['127.0.0.1', '2130706433', '0x7f.0.0.1', '[::1]', '[::ffff:127.0.0.1]', '10.0.0.1'])
      expect(reason(`https://${host}/`)).toBe('host-not-allowed');
    // Listed and public: allowed, with the literal.
    expect(policy.checkUrl('https://93.184.216.34/x').literal).toEqual(ip('93.184.216.34'));
    // Listed but special: refused by the address rule.
    const strict = new UrlPolicy(['203.0.113.7', '169.254.169.254', '[::ffff:127.0.0.1]', '[fe80::1]']);
    expect(reasonOf(() => strict.checkUrl('https://203.0.113.7/x'))).toBe('address');
    expect(reasonOf(() => strict.checkUrl('https://169.254.169.254/latest/meta-data/'))).toBe('address');
    expect(reasonOf(() => strict.checkUrl('https://[::ffff:127.0.0.1]/'))).toBe('address');
    expect(reasonOf(() => strict.checkUrl('https://[::ffff:7f00:1]/'))).toBe('address');
    expect(reasonOf(() => strict.checkUrl('https://[fe80::1]/'))).toBe('address');
  });

  test('redirect hops: every rule again, refused as redirect (address keeps its reason)', () => {
    const from = new URL('https://images.example.com/start?sig=secret');
    expect(policy.checkUrl('/next.jpg', from).url.href).toBe('https://images.example.com/next.jpg');
    expect(policy.checkUrl('https://x.cdn.example.net/y', from).host).toBe('x.cdn.example.net');
    for (const location of [
      'https://other.example.com/',
      'http://images.example.com/',
      'https://u:p@images.example.com/',
      'https://images.example.com:8443/',
      'http://169.254.169.254/',
      'file:///etc/passwd',
    ]) {
      const r = reasonOf(() => policy.checkUrl(location, from));
      expect(r).toBe('redirect');
    }
    const withMetadata = new UrlPolicy(['images.example.com', 'http://169.254.169.254']);
    expect(reasonOf(() => withMetadata.checkUrl('http://169.254.169.254/', from))).toBe('address');
    try {
      policy.checkUrl('https://other.example.com/', from);
    } catch (e) {
      expect((e as Error).message).not.toContain('secret');
    }
  });

  test('not a URL: an invalid parameter', () => {
    for (const text of ['', 'images.example.com/a.jpg', 'https://', 'http://[::1'])
      expect(() => policy.checkUrl(text)).toThrow(InvalidParameterError);
  });
});

describe('UrlPolicy.checkAddress', () => {
  test('special addresses are refused unless listed in allowedAddresses', () => {
    const open = new UrlPolicy(['example.com'], ['127.0.0.1', '::1', '10.1.2.3']);
    const closed = new UrlPolicy(['example.com']);
    for (const a of ['127.0.0.1', '::ffff:127.0.0.1', '::1', '10.1.2.3']) {
      expect(open.addressAllowed(a)).toBe(true);
      expect(closed.addressAllowed(a)).toBe(false);
      expect(
        reasonOf(() => {
          closed.checkAddress(a, 'example.com');
        }),
      ).toBe('address');
    }
    for (const a of ['127.0.0.2', '10.1.2.4', '169.254.169.254', '::2', ''])
      expect(open.addressAllowed(a)).toBe(false);
    for (const a of ['8.8.8.8', '2606:4700:4700::1111']) expect(closed.addressAllowed(a)).toBe(true);
  });

  test('the message names the host and the kind of range, not the address', () => {
    const p = new UrlPolicy(['example.com']);
    expect(() => {
      p.checkAddress('10.9.8.7', 'example.com');
    }).toThrow(
      "The image URL's host 'example.com' resolves to a private address; images are fetched only from public addresses.",
    );
  });

  test('an unreadable allowedAddresses entry is a configuration error', () => {
    expect(() => new UrlPolicy(['example.com'], ['localhost'])).toThrow(/IMAGE_URL_ALLOWED_ADDRESSES/);
  });
});

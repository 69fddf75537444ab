import sharp from 'sharp';
import { isSrgbEquivalentProfile, parseRgbMatrixProfile } from '../../lambda/src/core/icc-profile';
import { photo } from '../support/fixtures';

/** The ICC profile a photo embeds, read at test time (profile bytes are never committed). */
async function embeddedProfile(name: string): Promise<Buffer> {
  const { icc } = await sharp(photo(name)).metadata();
  if (!icc) throw new Error(`${name} has no embedded ICC profile`);
  return icc;
}

/** sharp's built-in Display P3 profile, as it embeds it in a JPEG. */
async function displayP3Profile(): Promise<Buffer> {
  const jpeg = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#808080' } })
    .withIccProfile('p3')
    .jpeg()
    .toBuffer();
  const { icc } = await sharp(jpeg).metadata();
  if (!icc) throw new Error('sharp did not embed the P3 profile');
  return icc;
}

const TAG_TABLE = 128;

/** Where a tag's entry lies in the tag table (ICC.1 7.3). */
function tagEntryOffset(profile: Buffer, signature: string): number {
  const count = profile.readUInt32BE(TAG_TABLE);
  for (let i = 0; i < count; i++) {
    const entry = TAG_TABLE + 4 + 12 * i;
    if (profile.toString('latin1', entry, entry + 4) === signature) return entry;
  }
  throw new Error(`no ${signature} tag`);
}

/** A copy whose rTRC alone points at a new 'curv' holding one u8Fixed8 gamma (the others keep sRGB). */
function withRedGammaCurve(profile: Buffer, gamma: number): Buffer {
  const curve = Buffer.alloc(16);
  curve.write('curv', 0, 'latin1');
  curve.writeUInt32BE(1, 8);
  curve.writeUInt16BE(Math.round(gamma * 256), 12);
  const edited = Buffer.concat([profile, curve]);
  edited.writeUInt32BE(edited.length, 0);
  const entry = tagEntryOffset(edited, 'rTRC');
  edited.writeUInt32BE(profile.length, entry + 4);
  edited.writeUInt32BE(curve.length, entry + 8);
  return edited;
}

/** A copy with the rXYZ colorant's X moved by delta (s15Fixed16). */
function withRedColorantXNudged(profile: Buffer, delta: number): Buffer {
  const edited = Buffer.from(profile);
  const dataOffset = edited.readUInt32BE(tagEntryOffset(edited, 'rXYZ') + 4);
  edited.writeInt32BE(edited.readInt32BE(dataOffset + 8) + Math.round(delta * 65536), dataOffset + 8);
  return edited;
}

/** A copy with one tag renamed in the tag table; its data stays where it was. */
function withTagRenamed(profile: Buffer, from: string, to: string): Buffer {
  const edited = Buffer.from(profile);
  edited.write(to, tagEntryOffset(edited, from), 'latin1');
  return edited;
}

/** Deterministic bytes (xorshift32) so a failure reproduces. */
function pseudoRandomBytes(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

let srgbV2: Buffer; // dog.jpg: the 3144-byte IEC 61966-2.1 profile, 1024-entry 'curv' TRCs
let srgbV4: Buffer; // dog_exif_orientation6.jpg: a 480-byte v4 profile with 'para' TRCs
let displayP3: Buffer;

beforeAll(async () => {
  [srgbV2, srgbV4, displayP3] = await Promise.all([
    embeddedProfile('dog.jpg'),
    embeddedProfile('dog_exif_orientation6.jpg'),
    displayP3Profile(),
  ]);
});

describe('isSrgbEquivalentProfile', () => {
  it('accepts the v2 sRGB profile embedded in dog.jpg (curv tone curves)', () => {
    expect(srgbV2.length).toBe(3144);
    expect(isSrgbEquivalentProfile(srgbV2)).toBe(true);
  });

  it('accepts the v4 sRGB profile embedded in dog_exif_orientation6.jpg (parametric tone curves)', () => {
    expect(srgbV4.length).toBe(480);
    expect(isSrgbEquivalentProfile(srgbV4)).toBe(true);
  });

  it("rejects sharp's Display P3 profile, whose tone curves are sRGB's but primaries are wider", () => {
    const p3 = parseRgbMatrixProfile(displayP3);
    expect(p3?.toneCurves.red).toEqual(parseRgbMatrixProfile(srgbV4)?.toneCurves.red);
    expect(isSrgbEquivalentProfile(displayP3)).toBe(false);
  });

  it('rejects an sRGB profile whose red tone curve is a pure gamma 2.2', () => {
    const edited = withRedGammaCurve(srgbV2, 2.2);
    expect(parseRgbMatrixProfile(edited)?.toneCurves.red).toEqual({
      kind: 'parametric',
      functionType: 0,
      params: [563 / 256],
    });
    expect(isSrgbEquivalentProfile(edited)).toBe(false);
  });

  it('rejects an sRGB profile whose red colorant is moved by 0.01', () => {
    for (const profile of [srgbV2, srgbV4]) {
      const edited = withRedColorantXNudged(profile, 0.01);
      expect(parseRgbMatrixProfile(edited)).toBeDefined();
      expect(isSrgbEquivalentProfile(edited)).toBe(false);
    }
  });

  it('rejects a profile carrying an A2B0 lookup table, which lcms would use instead of the matrix', () => {
    expect(isSrgbEquivalentProfile(withTagRenamed(srgbV2, 'dmnd', 'A2B0'))).toBe(false);
  });

  it('rejects a profile whose data colour space is not RGB', () => {
    const gray = Buffer.from(srgbV2);
    gray.write('GRAY', 16, 'latin1');
    expect(isSrgbEquivalentProfile(gray)).toBe(false);
  });

  it('rejects empty, header-only and truncated profiles without throwing', () => {
    expect(isSrgbEquivalentProfile(new Uint8Array(0))).toBe(false);
    expect(isSrgbEquivalentProfile(srgbV2.subarray(0, 128))).toBe(false);
    for (const length of [1, 36, 131, 132, 200, 600, 1100, 3143]) {
      expect(isSrgbEquivalentProfile(srgbV2.subarray(0, length))).toBe(false);
    }
    expect(isSrgbEquivalentProfile(srgbV4.subarray(0, srgbV4.length - 1))).toBe(false);
  });

  it('rejects random bytes without throwing', () => {
    for (let seed = 1; seed <= 50; seed++) {
      expect(isSrgbEquivalentProfile(pseudoRandomBytes(16 + seed * 97, seed))).toBe(false);
    }
  });

  it('never throws on sRGB profiles with random bytes overwritten', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const profile = Buffer.from(seed % 2 ? srgbV2 : srgbV4);
      const noise = pseudoRandomBytes(12, seed);
      for (let i = 0; i < 4; i++) profile[noise.readUInt16BE(3 * i) % profile.length] = noise[3 * i + 2]!;
      expect(typeof isSrgbEquivalentProfile(profile)).toBe('boolean');
    }
  });
});

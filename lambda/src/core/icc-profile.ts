/**
 * Reads just enough of an ICC profile (ICC.1, v2 and v4) to tell whether it describes sRGB.
 *
 * Decoding with the embedded profile costs an lcms transform per photo; when the profile is sRGB
 * that transform maps every pixel onto itself, so the decoder may skip it. The decision is made from
 * the maths the colour engine would use (matrix colorants and tone curves), never from description
 * text. Anything this parser does not fully understand is "not sRGB", which keeps the full transform.
 */

/** A CIE XYZ triple (PCS-relative, D50). */
export interface XyzColour {
  x: number;
  y: number;
  z: number;
}

/** A tone reproduction curve: device value in [0, 1] → linear light in [0, 1]. */
export type ToneCurve =
  | { kind: 'table'; entries: readonly number[] }
  | { kind: 'parametric'; functionType: number; params: readonly number[] };

/** The matrix/TRC model of an RGB profile: three colorants and three tone curves. */
export interface RgbMatrixProfile {
  colorants: { red: XyzColour; green: XyzColour; blue: XyzColour };
  toneCurves: { red: ToneCurve; green: ToneCurve; blue: ToneCurve };
}

/** sRGB primaries adapted to the D50 PCS (Bradford), as in the IEC 61966-2.1 profile. */
const SRGB_COLORANTS: RgbMatrixProfile['colorants'] = {
  red: { x: 0.436066, y: 0.222488, z: 0.013916 },
  green: { x: 0.385147, y: 0.716869, z: 0.097087 },
  blue: { x: 0.143066, y: 0.060608, z: 0.714096 },
};

/**
 * Real sRGB profiles round colorants to s15Fixed16 and differ in adaptation maths by ~2e-4; Display
 * P3 and Adobe RGB differ by more than 0.05, so 0.003 separates them with a wide margin either side.
 */
const COLORANT_TOLERANCE = 0.003;

/** One 8-bit code value: a curve this close to sRGB's re-encodes every pixel to within ±1. */
const TONE_CURVE_TOLERANCE = 1 / 255;

/** Evenly spaced device values at which a tone curve is compared with the sRGB curve. */
const TONE_CURVE_SAMPLES = 1024;

const HEADER_SIZE = 128;
const TAG_ENTRY_SIZE = 12;
/** Number of parameters per 'para' function type (ICC.1 table 65). */
const PARAMETRIC_PARAM_COUNTS: readonly number[] = [1, 3, 4, 5, 7];
/** Profile classes whose matrix/TRC maps device RGB to the PCS: input, display, colour space. */
const DEVICE_CLASSES = new Set(['scnr', 'mntr', 'spac']);

/** Bounds-checked big-endian reads; every accessor returns undefined past the end. */
class ProfileReader {
  constructor(private readonly bytes: Uint8Array) {}

  get length(): number {
    return this.bytes.length;
  }

  fits(offset: number, size: number): boolean {
    return Number.isSafeInteger(offset) && offset >= 0 && size >= 0 && offset + size <= this.bytes.length;
  }

  uint16(offset: number): number | undefined {
    if (!this.fits(offset, 2)) return undefined;
    return ((this.bytes[offset] ?? 0) << 8) | (this.bytes[offset + 1] ?? 0);
  }

  uint32(offset: number): number | undefined {
    const high = this.uint16(offset);
    const low = this.uint16(offset + 2);
    return high === undefined || low === undefined ? undefined : high * 0x10000 + low;
  }

  /** s15Fixed16Number: a signed 32-bit value over 65536. */
  s15Fixed16(offset: number): number | undefined {
    const raw = this.uint32(offset);
    if (raw === undefined) return undefined;
    return (raw >= 0x80000000 ? raw - 0x100000000 : raw) / 65536;
  }

  signature(offset: number): string | undefined {
    if (!this.fits(offset, 4)) return undefined;
    return String.fromCharCode(...this.bytes.subarray(offset, offset + 4));
  }
}

interface TagData {
  offset: number;
  size: number;
}

/** The tag table (ICC.1 7.3): signature → where its data lies, all inside the profile. */
function readTagTable(reader: ProfileReader): Map<string, TagData> | undefined {
  const count = reader.uint32(HEADER_SIZE);
  if (count === undefined || !reader.fits(HEADER_SIZE + 4, count * TAG_ENTRY_SIZE)) return undefined;
  const tags = new Map<string, TagData>();
  for (let i = 0; i < count; i++) {
    const entry = HEADER_SIZE + 4 + i * TAG_ENTRY_SIZE;
    const signature = reader.signature(entry);
    const offset = reader.uint32(entry + 4);
    const size = reader.uint32(entry + 8);
    if (signature === undefined || offset === undefined || size === undefined) return undefined;
    if (!reader.fits(offset, size)) return undefined;
    if (!tags.has(signature)) tags.set(signature, { offset, size });
  }
  return tags;
}

/** An RGB device profile whose PCS is XYZ, with a declared size that the bytes actually hold. */
function hasRgbToXyzHeader(reader: ProfileReader): boolean {
  const declaredSize = reader.uint32(0);
  return (
    declaredSize !== undefined &&
    declaredSize >= HEADER_SIZE + 4 &&
    declaredSize <= reader.length &&
    reader.signature(36) === 'acsp' &&
    DEVICE_CLASSES.has(reader.signature(12) ?? '') &&
    reader.signature(16) === 'RGB ' &&
    reader.signature(20) === 'XYZ '
  );
}

function readXyzTag(reader: ProfileReader, tag: TagData | undefined): XyzColour | undefined {
  if (tag === undefined || tag.size < 20 || reader.signature(tag.offset) !== 'XYZ ') return undefined;
  const x = reader.s15Fixed16(tag.offset + 8);
  const y = reader.s15Fixed16(tag.offset + 12);
  const z = reader.s15Fixed16(tag.offset + 16);
  return x === undefined || y === undefined || z === undefined ? undefined : { x, y, z };
}

/** 'curv' (ICC.1 10.6): a count, then that many uInt16 entries (0: identity, 1: a u8Fixed8 gamma). */
function readCurveType(reader: ProfileReader, tag: TagData): ToneCurve | undefined {
  const count = reader.uint32(tag.offset + 8);
  if (count === undefined || tag.size < 12 + 2 * count) return undefined;
  if (count === 0) return { kind: 'parametric', functionType: 0, params: [1] };
  if (count === 1) {
    const gamma = reader.uint16(tag.offset + 12);
    return gamma === undefined ? undefined : { kind: 'parametric', functionType: 0, params: [gamma / 256] };
  }
  const entries: number[] = [];
  for (let i = 0; i < count; i++) {
    const entry = reader.uint16(tag.offset + 12 + 2 * i);
    if (entry === undefined) return undefined;
    entries.push(entry / 65535);
  }
  return { kind: 'table', entries };
}

/** 'para' (ICC.1 10.18): a function type 0–4 and its s15Fixed16 parameters. */
function readParametricCurveType(reader: ProfileReader, tag: TagData): ToneCurve | undefined {
  const functionType = reader.uint16(tag.offset + 8);
  const paramCount = functionType === undefined ? undefined : PARAMETRIC_PARAM_COUNTS[functionType];
  if (functionType === undefined || paramCount === undefined || tag.size < 12 + 4 * paramCount) {
    return undefined;
  }
  const params: number[] = [];
  for (let i = 0; i < paramCount; i++) {
    const param = reader.s15Fixed16(tag.offset + 12 + 4 * i);
    if (param === undefined) return undefined;
    params.push(param);
  }
  return { kind: 'parametric', functionType, params };
}

function readToneCurveTag(reader: ProfileReader, tag: TagData | undefined): ToneCurve | undefined {
  if (tag === undefined) return undefined;
  const type = reader.signature(tag.offset);
  if (type === 'curv') return readCurveType(reader, tag);
  if (type === 'para') return readParametricCurveType(reader, tag);
  return undefined;
}

/**
 * lcms prefers an AToB/DToB lookup table over the matrix/TRC for the intent sharp requests, so a
 * profile carrying one is not described by its matrix alone.
 */
function hasDeviceToPcsTable(tags: Map<string, TagData>): boolean {
  return [...tags.keys()].some((signature) => signature.startsWith('A2B') || signature.startsWith('D2B'));
}

/**
 * The matrix/TRC model of an RGB→XYZ profile, or undefined when the bytes are malformed, truncated,
 * not RGB, or use lookup tables. Never throws.
 */
export function parseRgbMatrixProfile(icc: Uint8Array): RgbMatrixProfile | undefined {
  const reader = new ProfileReader(icc);
  if (!hasRgbToXyzHeader(reader)) return undefined;
  const tags = readTagTable(reader);
  if (tags === undefined || hasDeviceToPcsTable(tags)) return undefined;
  const red = readXyzTag(reader, tags.get('rXYZ'));
  const green = readXyzTag(reader, tags.get('gXYZ'));
  const blue = readXyzTag(reader, tags.get('bXYZ'));
  const redCurve = readToneCurveTag(reader, tags.get('rTRC'));
  const greenCurve = readToneCurveTag(reader, tags.get('gTRC'));
  const blueCurve = readToneCurveTag(reader, tags.get('bTRC'));
  if (!red || !green || !blue || !redCurve || !greenCurve || !blueCurve) return undefined;
  return {
    colorants: { red, green, blue },
    toneCurves: { red: redCurve, green: greenCurve, blue: blueCurve },
  };
}

/** IEC 61966-2.1 encoding: linear light → device value. */
function srgbEncode(linear: number): number {
  return linear <= 0.0031308 ? 12.92 * linear : 1.055 * Math.pow(linear, 1 / 2.4) - 0.055;
}

/** ICC.1 table 65; NaN for a function type this file does not know. */
function evaluateParametric(functionType: number, params: readonly number[], x: number): number {
  const [g = NaN, a = NaN, b = NaN, c = NaN, d = NaN, e = NaN, f = NaN] = params;
  switch (functionType) {
    case 0:
      return Math.pow(x, g);
    case 1:
      return x >= -b / a ? Math.pow(a * x + b, g) : 0;
    case 2:
      return x >= -b / a ? Math.pow(a * x + b, g) + c : c;
    case 3:
      return x >= d ? Math.pow(a * x + b, g) : c * x;
    case 4:
      return x >= d ? Math.pow(a * x + b, g) + e : c * x + f;
    default:
      return NaN;
  }
}

/** A table is sampled piecewise-linearly over [0, 1], as lcms interpolates it. */
function evaluateTable(entries: readonly number[], x: number): number {
  const position = x * (entries.length - 1);
  const below = Math.floor(position);
  const low = entries[below] ?? NaN;
  const high = entries[Math.min(below + 1, entries.length - 1)] ?? NaN;
  return low + (high - low) * (position - below);
}

/** The curve's linear-light output for device value x in [0, 1]; NaN when it cannot be evaluated. */
export function evaluateToneCurve(curve: ToneCurve, x: number): number {
  return curve.kind === 'table'
    ? evaluateTable(curve.entries, x)
    : evaluateParametric(curve.functionType, curve.params, x);
}

/**
 * Compared in the encoded domain: re-encoding the curve's output with sRGB must give back the
 * input, which is exactly what an sRGB→sRGB transform does to a pixel. (A pure gamma 2.2 is ~5
 * code values off near black.)
 */
function isSrgbToneCurve(curve: ToneCurve): boolean {
  for (let i = 0; i < TONE_CURVE_SAMPLES; i++) {
    const x = i / (TONE_CURVE_SAMPLES - 1);
    const deviation = Math.abs(srgbEncode(evaluateToneCurve(curve, x)) - x);
    if (!(deviation <= TONE_CURVE_TOLERANCE)) return false;
  }
  return true;
}

function isNear(actual: XyzColour, expected: XyzColour): boolean {
  return (
    Math.abs(actual.x - expected.x) <= COLORANT_TOLERANCE &&
    Math.abs(actual.y - expected.y) <= COLORANT_TOLERANCE &&
    Math.abs(actual.z - expected.z) <= COLORANT_TOLERANCE
  );
}

/**
 * True when converting through this profile to sRGB would leave pixels as they are: sRGB
 * colorants and the sRGB tone curve on all three channels. False for wide-gamut (Display P3,
 * Adobe RGB), non-RGB, table-based, malformed or truncated profiles. Never throws.
 */
export function isSrgbEquivalentProfile(icc: Uint8Array): boolean {
  const profile = parseRgbMatrixProfile(icc);
  if (profile === undefined) return false;
  const { colorants, toneCurves } = profile;
  return (
    isNear(colorants.red, SRGB_COLORANTS.red) &&
    isNear(colorants.green, SRGB_COLORANTS.green) &&
    isNear(colorants.blue, SRGB_COLORANTS.blue) &&
    isSrgbToneCurve(toneCurves.red) &&
    isSrgbToneCurve(toneCurves.green) &&
    isSrgbToneCurve(toneCurves.blue)
  );
}

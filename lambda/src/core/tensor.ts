import type { Layout, ModelSpec, PreprocessSpec } from './manifest';

/**
 * Turns interleaved RGB bytes (HWC, 3 channels, as the decoder delivers them) into the model's
 * float tensor: channel order, scale, mean/std and layout from the manifest, in one pass.
 */
export function packTensor(
  rgb: Uint8Array,
  width: number,
  height: number,
  spec: Pick<PreprocessSpec, 'channels' | 'scale' | 'mean' | 'std'>,
  layout: Layout,
): Float32Array {
  const pixels = width * height;
  if (rgb.length !== pixels * 3) {
    throw new RangeError(`expected ${pixels * 3} RGB bytes for ${width}x${height}, got ${rgb.length}`);
  }
  const out = new Float32Array(pixels * 3);
  // Source channel for each destination channel: BGR reads R from slot 2.
  const src = spec.channels === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  for (let c = 0; c < 3; c++) {
    const from = src[c] ?? c;
    const mul = spec.scale / (spec.std[c] ?? 1);
    const add = -(spec.mean[c] ?? 0) / (spec.std[c] ?? 1);
    if (layout === 'NCHW') {
      const base = c * pixels;
      for (let p = 0, i = from; p < pixels; p++, i += 3) out[base + p] = (rgb[i] as number) * mul + add;
    } else {
      for (let p = 0, i = from, o = c; p < pixels; p++, i += 3, o += 3)
        out[o] = (rgb[i] as number) * mul + add;
    }
  }
  return out;
}

/** The model's batch-of-one input for decoded RGB at the input size: the packed data and its dims. */
export function modelInput(
  image: { rgb: Uint8Array; width: number; height: number },
  spec: Pick<ModelSpec, 'input' | 'preprocess'>,
): { data: Float32Array; dims: number[] } {
  const { rgb, width, height } = image;
  return {
    data: packTensor(rgb, width, height, spec.preprocess, spec.input.layout),
    dims: spec.input.layout === 'NCHW' ? [1, 3, height, width] : [1, height, width, 3],
  };
}

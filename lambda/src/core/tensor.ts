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
  const out = new Float32Array(width * height * 3);
  packTensorInto(out, 0, rgb, width, height, spec, layout);
  return out;
}

/**
 * {@link packTensor} written into `out` from `offset` (one image's slot of a batch tensor), so a
 * batch is packed without a copy per image.
 */
export function packTensorInto(
  out: Float32Array,
  offset: number,
  rgb: Uint8Array,
  width: number,
  height: number,
  spec: Pick<PreprocessSpec, 'channels' | 'scale' | 'mean' | 'std'>,
  layout: Layout,
): void {
  const pixels = width * height;
  if (rgb.length !== pixels * 3) {
    throw new RangeError(`expected ${pixels * 3} RGB bytes for ${width}x${height}, got ${rgb.length}`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + pixels * 3 > out.length) {
    throw new RangeError(`no room for ${pixels * 3} values at ${offset} in a tensor of ${out.length}`);
  }
  // Source channel for each destination channel: BGR reads R from slot 2.
  const src = spec.channels === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  for (let c = 0; c < 3; c++) {
    const from = src[c] ?? c;
    const mul = spec.scale / (spec.std[c] ?? 1);
    const add = -(spec.mean[c] ?? 0) / (spec.std[c] ?? 1);
    if (layout === 'NCHW') {
      const base = offset + c * pixels;
      for (let p = 0, i = from; p < pixels; p++, i += 3) out[base + p] = (rgb[i] as number) * mul + add;
    } else {
      for (let p = 0, i = from, o = offset + c; p < pixels; p++, i += 3, o += 3)
        out[o] = (rgb[i] as number) * mul + add;
    }
  }
}

/** The model's input shape for a batch of `n` images (the manifest's layout and size). */
export function inputShape(spec: Pick<ModelSpec, 'input'>, n = 1): number[] {
  const { width, height, layout } = spec.input;
  return layout === 'NCHW' ? [n, 3, height, width] : [n, height, width, 3];
}

/** The model's batch-of-one input for decoded RGB at the input size: the packed data and its dims. */
export function modelInput(
  image: { rgb: Uint8Array; width: number; height: number },
  spec: Pick<ModelSpec, 'input' | 'preprocess'>,
): { data: Float32Array; dims: number[] } {
  const { rgb, width, height } = image;
  return {
    data: packTensor(rgb, width, height, spec.preprocess, spec.input.layout),
    dims: inputShape({ input: { ...spec.input, width, height } }),
  };
}

/**
 * One input for several decoded images at the input size: each image packed into its own slot of
 * one tensor, dims [n, …] (the graph's batch dimension must be dynamic). Image i's values start at
 * i × (values per image), the layout every batched graph expects.
 */
export function batchInput(
  images: readonly { rgb: Uint8Array; width: number; height: number }[],
  spec: Pick<ModelSpec, 'input' | 'preprocess'>,
): { data: Float32Array; dims: number[] } {
  const { width, height, layout } = spec.input;
  const per = width * height * 3;
  const data = new Float32Array(per * images.length);
  images.forEach((image, i) => {
    if (image.width !== width || image.height !== height) {
      throw new RangeError(`image ${i} is ${image.width}x${image.height}, the input is ${width}x${height}`);
    }
    packTensorInto(data, i * per, image.rgb, width, height, spec.preprocess, layout);
  });
  return { data, dims: inputShape(spec, images.length) };
}

import sharp from 'sharp';

/**
 * The pipeline the service avoids, as a baseline: libvips decodes every pixel (no shrink-on-load,
 * no resize), then JavaScript resizes the shorter side to 256 with bilinear interpolation, crops
 * the centre 224×224 and normalises into an NCHW float tensor, pixel by pixel.
 */
export async function naivePreprocess(
  bytes: Uint8Array,
  mean: readonly number[],
  std: readonly number[],
  size = 224,
  shorter = 256,
): Promise<Float32Array> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const { width: w, height: h, channels } = info;
  const scale = shorter / Math.min(w, h);
  const rw = Math.round(w * scale);
  const rh = Math.round(h * scale);
  const x0 = Math.floor((rw - size) / 2);
  const y0 = Math.floor((rh - size) / 2);
  const out = new Float32Array(3 * size * size);
  const plane = size * size;
  for (let y = 0; y < size; y++) {
    const sy = Math.min(h - 1, Math.max(0, (y + y0 + 0.5) / scale - 0.5));
    const yA = Math.floor(sy);
    const yB = Math.min(h - 1, yA + 1);
    const fy = sy - yA;
    for (let x = 0; x < size; x++) {
      const sx = Math.min(w - 1, Math.max(0, (x + x0 + 0.5) / scale - 0.5));
      const xA = Math.floor(sx);
      const xB = Math.min(w - 1, xA + 1);
      const fx = sx - xA;
      for (let c = 0; c < 3; c++) {
        const p = (yy: number, xx: number) => data[(yy * w + xx) * channels + c]!;
        const top = p(yA, xA) * (1 - fx) + p(yA, xB) * fx;
        const bottom = p(yB, xA) * (1 - fx) + p(yB, xB) * fx;
        const v = (top * (1 - fy) + bottom * fy) / 255;
        out[c * plane + y * size + x] = (v - mean[c]!) / std[c]!;
      }
    }
  }
  return out;
}

import { packTensor } from '../../lambda/src/core/tensor';

// A 2×1 image: pixel 0 = (R10, G20, B30), pixel 1 = (R40, G50, B60), interleaved as the decoder gives it.
const RGB = Uint8Array.from([10, 20, 30, 40, 50, 60]);
const RAW = {
  scale: 1,
  mean: [0, 0, 0] as [number, number, number],
  std: [1, 1, 1] as [number, number, number],
};

describe('packTensor', () => {
  it('NHWC keeps the interleaved order: [p0R, p0G, p0B, p1R, …]', () => {
    expect(Array.from(packTensor(RGB, 2, 1, { ...RAW, channels: 'RGB' }, 'NHWC'))).toEqual([
      10, 20, 30, 40, 50, 60,
    ]);
  });

  it('NCHW puts each channel plane together: [R plane, G plane, B plane]', () => {
    expect(Array.from(packTensor(RGB, 2, 1, { ...RAW, channels: 'RGB' }, 'NCHW'))).toEqual([
      10, 40, 20, 50, 30, 60,
    ]);
  });

  it('BGR swaps R and B in NHWC', () => {
    expect(Array.from(packTensor(RGB, 2, 1, { ...RAW, channels: 'BGR' }, 'NHWC'))).toEqual([
      30, 20, 10, 60, 50, 40,
    ]);
  });

  it('BGR swaps the R and B planes in NCHW', () => {
    expect(Array.from(packTensor(RGB, 2, 1, { ...RAW, channels: 'BGR' }, 'NCHW'))).toEqual([
      30, 60, 20, 50, 10, 40,
    ]);
  });

  it('NCHW plane offsets follow width×height (2×2 image, the B plane starts at 8)', () => {
    const rgb = Uint8Array.from({ length: 12 }, (_, i) => i); // pixel p = (3p, 3p+1, 3p+2)
    expect(Array.from(packTensor(rgb, 2, 2, { ...RAW, channels: 'RGB' }, 'NCHW'))).toEqual([
      0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11,
    ]);
  });

  it('applies value = (pixel * scale - mean[c]) / std[c] per destination channel, exactly', () => {
    // Dyadic constants keep float32 exact. Pixel 0: R (10*0.5-1)/2 = 2, G (20*0.5-2)/4 = 2, B (30*0.5-3)/8 = 1.5;
    // pixel 1: R (40*0.5-1)/2 = 9.5, G (50*0.5-2)/4 = 5.75, B (60*0.5-3)/8 = 3.375.
    const spec = {
      channels: 'RGB' as const,
      scale: 0.5,
      mean: [1, 2, 3] as [number, number, number],
      std: [2, 4, 8] as [number, number, number],
    };
    expect(Array.from(packTensor(RGB, 2, 1, spec, 'NHWC'))).toEqual([2, 2, 1.5, 9.5, 5.75, 3.375]);
  });

  it('with BGR, mean/std index the destination channel (channel 0 = B)', () => {
    const spec = {
      channels: 'BGR' as const,
      scale: 0.5,
      mean: [1, 2, 3] as [number, number, number],
      std: [2, 4, 8] as [number, number, number],
    };
    // dest 0 = B: (30*0.5-1)/2 = 7; dest 1 = G: (20*0.5-2)/4 = 2; dest 2 = R: (10*0.5-3)/8 = 0.25.
    expect(Array.from(packTensor(RGB, 2, 1, spec, 'NHWC')).slice(0, 3)).toEqual([7, 2, 0.25]);
  });

  it('ImageNet normalisation: 255 → (1 - 0.485) / 0.229 on R, 0 → -0.406 / 0.225 on B', () => {
    const spec = {
      channels: 'RGB' as const,
      scale: 1 / 255,
      mean: [0.485, 0.456, 0.406] as [number, number, number],
      std: [0.229, 0.224, 0.225] as [number, number, number],
    };
    const out = packTensor(Uint8Array.from([255, 128, 0]), 1, 1, spec, 'NCHW');
    expect(out[0]).toBeCloseTo((1 - 0.485) / 0.229, 5);
    expect(out[1]).toBeCloseTo((128 / 255 - 0.456) / 0.224, 5);
    expect(out[2]).toBeCloseTo(-0.406 / 0.225, 5);
  });

  it('YOLOv4 scaling: /255 with no mean/std, so the 128 padding becomes 0.50196', () => {
    const out = packTensor(
      Uint8Array.from([128, 128, 128]),
      1,
      1,
      { ...RAW, channels: 'RGB', scale: 1 / 255 },
      'NHWC',
    );
    expect(out[0]).toBeCloseTo(0.50196, 5);
  });

  it('returns a Float32Array of width*height*3 values', () => {
    const out = packTensor(new Uint8Array(4 * 3 * 3), 4, 3, { ...RAW, channels: 'RGB' }, 'NCHW');
    expect(out).toBeInstanceOf(Float32Array);
    expect(out.length).toBe(36);
  });

  it('rejects a buffer whose length is not width*height*3', () => {
    expect(() => packTensor(new Uint8Array(5), 2, 1, { ...RAW, channels: 'RGB' }, 'NHWC')).toThrow(
      /expected 6 RGB bytes for 2x1, got 5/,
    );
  });
});

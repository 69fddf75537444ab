/**
 * Batches in the pure core: several images packed into one tensor, a batched run's outputs sliced
 * back per image, per-image postprocessing of the slices, and the bounded decode pool.
 */
import { boundedMap, splitBatch } from '../../lambda/src/core/batch';
import { softmax } from '../../lambda/src/core/classification';
import { planResize } from '../../lambda/src/core/geometry';
import { maxBatchOf, type ModelSpec } from '../../lambda/src/core/manifest';
import { classifyOutput, detectOutput } from '../../lambda/src/core/postprocess';
import { batchInput, modelInput, packTensor, packTensorInto } from '../../lambda/src/core/tensor';
import type { OutputMap } from '../../lambda/src/core/tensor-types';
import { TINY_HEAD } from '../support/tiny-yolo-head';

const RAW = {
  scale: 1,
  mean: [0, 0, 0] as [number, number, number],
  std: [1, 1, 1] as [number, number, number],
};

/** A 2×1 model input; `layout` and channel order as given. */
function spec(layout: 'NCHW' | 'NHWC', channels: 'RGB' | 'BGR' = 'RGB') {
  return {
    input: { name: 'x', layout, width: 2, height: 1, dtype: 'float32' },
    preprocess: { resize: { mode: 'stretch' }, channels, ...RAW },
  } as Pick<ModelSpec, 'input' | 'preprocess'>;
}

// Two 2×1 images: pixel values 1..6 and 11..16, interleaved RGB as the decoder delivers them.
const A = { rgb: Uint8Array.from([1, 2, 3, 4, 5, 6]), width: 2, height: 1 };
const B = { rgb: Uint8Array.from([11, 12, 13, 14, 15, 16]), width: 2, height: 1 };

describe('batchInput: several images in one tensor', () => {
  it('NCHW: image i fills slot i, each slot in planes; dims [n, 3, H, W]', () => {
    const { data, dims } = batchInput([A, B], spec('NCHW'));
    expect(dims).toEqual([2, 3, 1, 2]);
    expect(Array.from(data)).toEqual([1, 4, 2, 5, 3, 6, 11, 14, 12, 15, 13, 16]);
  });

  it('NHWC: slots stay interleaved; dims [n, H, W, 3]', () => {
    const { data, dims } = batchInput([A, B], spec('NHWC'));
    expect(dims).toEqual([2, 1, 2, 3]);
    expect(Array.from(data)).toEqual([1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16]);
  });

  it('each slot equals the batch-of-one tensor of that image (BGR, mean/std applied)', () => {
    const s = spec('NCHW', 'BGR');
    s.preprocess = {
      ...s.preprocess,
      scale: 1 / 255,
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
    };
    const images = [A, B, A];
    const { data } = batchInput(images, s);
    images.forEach((img, i) => {
      const one = modelInput(img, s);
      expect(one.dims).toEqual([1, 3, 1, 2]);
      expect(Array.from(data.subarray(i * 6, (i + 1) * 6))).toEqual(Array.from(one.data));
    });
  });

  it('refuses an image that is not at the input size', () => {
    expect(() => batchInput([A, { rgb: new Uint8Array(9), width: 3, height: 1 }], spec('NCHW'))).toThrow(
      /image 1 is 3x1, the input is 2x1/,
    );
  });
});

describe('packTensorInto', () => {
  it('writes one image at an offset and leaves the rest of the tensor alone', () => {
    const out = new Float32Array(8).fill(-1);
    packTensorInto(out, 1, A.rgb, 2, 1, { ...RAW, channels: 'RGB' }, 'NCHW');
    expect(Array.from(out)).toEqual([-1, 1, 4, 2, 5, 3, 6, -1]);
    expect(Array.from(packTensor(A.rgb, 2, 1, { ...RAW, channels: 'RGB' }, 'NCHW'))).toEqual([
      1, 4, 2, 5, 3, 6,
    ]);
  });

  it('refuses a slot that does not fit', () => {
    expect(() => {
      packTensorInto(new Float32Array(8), 3, A.rgb, 2, 1, { ...RAW, channels: 'RGB' }, 'NHWC');
    }).toThrow(RangeError);
  });
});

describe('splitBatch: a batched run back into per-image outputs', () => {
  const logits = Float32Array.from([1, 2, 3, 4, 10, 0, 0, 0, -1, -2, 5, 0.5]); // 3 rows of 4
  const outputs: OutputMap = {
    logits: { data: logits, dims: [3, 4] },
    boxes: { data: Float32Array.from({ length: 3 * 2 * 5 }, (_, i) => i), dims: [3, 2, 5] },
  };

  it('slices every output along its first dimension, in order, with a batch of 1', () => {
    const parts = splitBatch(outputs, 3);
    expect(parts).toHaveLength(3);
    expect(parts.map((p) => Array.from(p.logits!.data))).toEqual([
      [1, 2, 3, 4],
      [10, 0, 0, 0],
      [-1, -2, 5, 0.5],
    ]);
    expect(parts[2]!.boxes!.dims).toEqual([1, 2, 5]);
    expect(Array.from(parts[2]!.boxes!.data)).toEqual([20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
    expect(parts[0]!.logits!.dims).toEqual([1, 4]);
  });

  it('the slices are views of the run output (no copy)', () => {
    const [first] = splitBatch(outputs, 3);
    expect(first!.logits!.data.buffer).toBe(logits.buffer);
  });

  it('refuses outputs whose first dimension is not the batch, or whose data does not fit the dims', () => {
    expect(() => splitBatch(outputs, 2)).toThrow(/expected a batch of 2 first/);
    expect(() => splitBatch({ y: { data: new Float32Array(7), dims: [2, 4] } }, 2)).toThrow(/7 values/);
    expect(() => splitBatch(outputs, 0)).toThrow(RangeError);
  });

  it('classification per row: softmax and top-k of each slice equal those of the row alone', () => {
    const post = { family: 'classification', outputIsProbability: false, topK: 2 } as const;
    const labels = { names: ['a', 'b', 'c', 'd'], synsets: null };
    const parts = splitBatch(outputs, 3);
    for (let i = 0; i < 3; i++) {
      const row = { data: logits.slice(i * 4, i * 4 + 4), dims: [1, 4] };
      expect(classifyOutput(parts[i]!.logits!, post, labels, 2)).toEqual(
        classifyOutput(row, post, labels, 2),
      );
    }
    // The softmax is per row, not over the whole batch: row 1's top-1 keeps nearly all of its mass.
    const top = classifyOutput(parts[1]!.logits!, post, labels, 1)[0]!;
    expect(top).toMatchObject({ label: 'a', classId: 0 });
    expect(top.probability).toBeCloseTo(softmax([10, 0, 0, 0])[0]!, 6);
  });

  it('detection per image: each slice decodes to the boxes of that image alone', () => {
    // One stride-32 head on a 64×64 input, G = 2, one anchor, two classes → [n,2,2,1,7].
    const { post, input, labels, opts } = TINY_HEAD;
    const cell = (gy: number, gx: number, v: number[]) => {
      const d = new Float32Array(2 * 2 * 7);
      d.set(v, (gy * 2 + gx) * 7);
      return d;
    };
    const images = [cell(0, 1, [0, 0, 0, 0, 0.9, 0.1, 0.7]), cell(1, 0, [0, 0, 0, 0, 0.8, 0.9, 0.1])];
    const batched = new Float32Array(2 * 28);
    images.forEach((d, i) => {
      batched.set(d, i * 28);
    });
    const parts = splitBatch({ h: { data: batched, dims: [2, 2, 2, 1, 7] } }, 2);
    const originals = [
      { width: 128, height: 64 },
      { width: 64, height: 64 },
    ];
    images.forEach((d, i) => {
      const original = originals[i]!;
      const plan = planResize(original, { mode: 'letterbox', align: 'center', padValue: 128 }, input);
      const alone = detectOutput(
        { h: { data: d, dims: [1, 2, 2, 1, 7] } },
        post,
        input,
        plan,
        original,
        labels,
        opts,
      );
      const fromBatch = detectOutput(parts[i]!, post, input, plan, original, labels, opts);
      expect(fromBatch).toEqual(alone);
      expect(fromBatch).toHaveLength(1);
    });
    expect(
      detectOutput(
        parts[0]!,
        post,
        input,
        planResize(originals[0]!, { mode: 'stretch' }, input),
        originals[0]!,
        labels,
        opts,
      )[0]!.label,
    ).toBe('dog');
    expect(
      detectOutput(
        parts[1]!,
        post,
        input,
        planResize(originals[1]!, { mode: 'stretch' }, input),
        originals[1]!,
        labels,
        opts,
      )[0]!.label,
    ).toBe('cat');
  });
});

describe('maxBatchOf: images per session run from the manifest', () => {
  it.each([
    [undefined, 1],
    [null, 1],
    [1, 1],
    [4, 4],
    [0, 1],
    [-2, 1],
    [2.5, 1],
    ['8', 1],
  ])('input.maxBatch %p → %p', (maxBatch, expected) => {
    expect(maxBatchOf({ maxBatch } as never)).toBe(expected);
  });
});

describe('boundedMap: the bounded pool batch decodes run in', () => {
  const tick = () => new Promise((r) => setTimeout(r, 1));

  it('runs at most `limit` at once, starts items in order, and answers each in its own slot', async () => {
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const results = await Promise.all(
      boundedMap([5, 1, 4, 2, 3, 6, 7], 3, async (v, i) => {
        started.push(i);
        running++;
        peak = Math.max(peak, running);
        for (let k = 0; k < v; k++) await tick();
        running--;
        return v * 10;
      }),
    );
    expect(results).toEqual([50, 10, 40, 20, 30, 60, 70]);
    expect(peak).toBe(3);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('one failure is that item’s own', async () => {
    const settled = await Promise.allSettled(
      boundedMap([1, 2, 3], 2, async (v) => {
        await tick();
        if (v === 2) throw new Error('bad');
        return v;
      }),
    );
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('once stopped, items not yet started never start and reject with the reason', async () => {
    let stopped = false;
    const ran: number[] = [];
    const promises = boundedMap(
      [0, 1, 2, 3],
      1,
      async (v) => {
        ran.push(v);
        await tick();
        stopped = v === 1;
        return v;
      },
      { stopped: () => stopped, reason: () => new Error('timed out') },
    );
    const settled = await Promise.allSettled(promises);
    expect(ran).toEqual([0, 1]);
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([
      0,
      1,
      'timed out',
      'timed out',
    ]);
  });

  it('a limit above the item count, or under 1, still runs everything', async () => {
    const same = (v: number) => Promise.resolve(v);
    expect(await Promise.all(boundedMap([1, 2], 16, same))).toEqual([1, 2]);
    expect(await Promise.all(boundedMap([1, 2], 0, same))).toEqual([1, 2]);
    expect(boundedMap([], 4, same)).toEqual([]);
  });
});

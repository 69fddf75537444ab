import type { YoloxPostprocess } from '../../lambda/src/core/manifest';
import { decodeYolox } from '../../lambda/src/core/yolox';

const f = Math.fround;
const spec: YoloxPostprocess = {
  family: 'yolox',
  output: 'output',
  strides: [8, 16, 32],
  scoreThreshold: 0.3,
  iouThreshold: 0.45,
  classAgnosticNms: true,
  maxDetections: 100,
};
const ATTRS = 5 + 3; // three classes keep the tensor small

function expectNear(actual: number, expected: number, what: string, tol = 1e-9) {
  if (!(Math.abs(actual - expected) <= tol)) throw new Error(`${what}: expected ${expected}, got ${actual}`);
}

function tensor(rows: number, hot: Record<number, number[]>) {
  const data = new Float32Array(rows * ATTRS);
  for (const [row, values] of Object.entries(hot)) data.set(values, Number(row) * ATTRS);
  return { output: { data, dims: [1, rows, ATTRS] } };
}

describe('decodeYolox', () => {
  it('decodes a hot cell in the stride-16 grid of a 416×416 input (row 52*52 + gy*26 + gx)', () => {
    const [gx, gy] = [7, 5];
    const row = 52 * 52 + gy * 26 + gx; // 2841: after the 2704 stride-8 rows
    const [tx, ty, tw, th] = [0.25, 0.75, 0.5, -0.3];
    const out = decodeYolox(
      tensor(3549, { [row]: [tx, ty, tw, th, 0.9, 0.2, 0.1, 0.7] }),
      spec,
      { width: 416, height: 416 },
      0.3,
    );
    expect(out).toHaveLength(1);
    const [c] = out;
    const cx = (tx + gx) * 16; // 116
    const cy = (ty + gy) * 16; // 92
    const w = Math.exp(f(tw)) * 16;
    const h = Math.exp(f(th)) * 16;
    expectNear(c!.box.x1, cx - w / 2, 'x1');
    expectNear(c!.box.y1, cy - h / 2, 'y1');
    expectNear(c!.box.x2, cx + w / 2, 'x2');
    expectNear(c!.box.y2, cy + h / 2, 'y2');
    expect(c!.classId).toBe(2);
    expectNear(c!.score, f(0.9) * f(0.7), 'score (objectness × best class, no sigmoid)');
  });

  it('walks a non-square input row-major with the grid width (416 wide × 320 high, stride 32)', () => {
    const rowsBefore = 52 * 40 + 26 * 20; // stride-8 then stride-16 grids
    const [gx, gy] = [12, 3];
    const row = rowsBefore + gy * 13 + gx; // 2651
    const out = decodeYolox(
      tensor(rowsBefore + 13 * 10, { [row]: [0.5, 0.5, 0, 0, 1, 1, 0, 0] }),
      spec,
      { width: 416, height: 320 },
      0.3,
    );
    expect(out).toHaveLength(1);
    expect(out[0]!.box).toEqual({ x1: 384, y1: 96, x2: 416, y2: 128 }); // centre (12.5*32, 3.5*32), 32×32
  });

  it('drops low objectness and low objectness × class', () => {
    const t = tensor(3549, { 0: [0, 0, 0, 0, 0.2, 1, 0, 0], 1: [0, 0, 0, 0, 0.9, 0.3, 0, 0] });
    expect(decodeYolox(t, spec, { width: 416, height: 416 }, 0.3)).toEqual([]);
  });

  it('rejects an output whose row count does not match the strides', () => {
    expect(() => decodeYolox(tensor(3548, {}), spec, { width: 416, height: 416 }, 0.3)).toThrow(
      /output: expected \[1,3549,5\+C\], got \[1,3548,8\]/,
    );
    expect(() => decodeYolox({}, spec, { width: 416, height: 416 }, 0.3)).toThrow(
      "missing model output 'output'",
    );
  });
});

import type { YoloxPostprocess } from './manifest';
import type { Candidate } from './nms';
import type { OutputMap } from './tensor-types';

/**
 * Decodes YOLOX's anchor-free output [1, sum(G²), 5+C] (exported with decode_in_inference=False):
 * centre = (t + cell) * stride, size = exp(t) * stride; objectness and classes already sigmoid.
 * Rows run stride by stride, each grid row-major.
 */
export function decodeYolox(
  outputs: OutputMap,
  post: YoloxPostprocess,
  input: { width: number; height: number },
  scoreThreshold: number,
): Candidate[] {
  const tensor = outputs[post.output];
  if (!tensor) throw new RangeError(`missing model output '${post.output}'`);
  const { data, dims } = tensor;
  const attrs = dims[2] ?? 0;
  const rows = dims[1] ?? 0;
  const expectedRows = post.strides.reduce((n, s) => n + (input.width / s) * (input.height / s), 0);
  if (dims.length !== 3 || rows !== expectedRows) {
    throw new RangeError(`${post.output}: expected [1,${expectedRows},5+C], got [${dims.join(',')}]`);
  }
  const candidates: Candidate[] = [];
  let row = 0;
  for (const stride of post.strides) {
    const gw = input.width / stride;
    const gh = input.height / stride;
    for (let gy = 0; gy < gh; gy++) {
      for (let gx = 0; gx < gw; gx++, row++) {
        const o = row * attrs;
        const obj = data[o + 4] as number;
        if (obj < scoreThreshold) continue;
        let best = 0;
        let bestScore = -Infinity;
        for (let c = 5; c < attrs; c++) {
          const v = data[o + c] as number;
          if (v > bestScore) {
            bestScore = v;
            best = c - 5;
          }
        }
        const score = obj * bestScore;
        if (score < scoreThreshold) continue;
        const cx = ((data[o] as number) + gx) * stride;
        const cy = ((data[o + 1] as number) + gy) * stride;
        const w = Math.exp(data[o + 2] as number) * stride;
        const h = Math.exp(data[o + 3] as number) * stride;
        candidates.push({
          box: { x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 },
          classId: best,
          score,
        });
      }
    }
  }
  return candidates;
}

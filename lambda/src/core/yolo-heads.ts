import type { YoloHeadsPostprocess } from './manifest';
import type { Candidate } from './nms';
import type { OutputMap } from './tensor-types';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const identity = (x: number) => x;

/** Where attribute k of anchor a at cell (gy, gx) lives in the flat head tensor. */
type Indexer = (gy: number, gx: number, a: number, k: number) => number;

function headGeometry(
  layout: YoloHeadsPostprocess['headLayout'],
  dims: readonly number[],
  anchors: number,
  output: string,
) {
  const d = (i: number) => dims[i] ?? 0;
  if (layout === 'grid-anchor-attrs') {
    // [N, Gh, Gw, A, 5+C]
    if (dims.length !== 5 || d(3) !== anchors)
      throw new RangeError(`${output}: expected [1,G,G,${anchors},5+C], got [${dims.join(',')}]`);
    const gh = d(1),
      gw = d(2),
      attrs = d(4);
    const at: Indexer = (gy, gx, a, k) => ((gy * gw + gx) * anchors + a) * attrs + k;
    return { gh, gw, attrs, at };
  }
  // darknet: [N, A*(5+C), Gh, Gw]
  if (dims.length !== 4 || d(1) % anchors !== 0)
    throw new RangeError(`${output}: expected [1,${anchors}*(5+C),G,G], got [${dims.join(',')}]`);
  const gh = d(2),
    gw = d(3),
    attrs = d(1) / anchors;
  const at: Indexer = (gy, gx, a, k) => ((a * attrs + k) * gh + gy) * gw + gx;
  return { gh, gw, attrs, at };
}

/**
 * Decodes anchor-based YOLO heads (YOLOv3/v4 family) into candidate boxes in model-input pixels:
 * centre = (sigmoid(t) * scaleXY - (scaleXY - 1) / 2 + cell) * stride, size = exp(t) * anchor.
 * Serves the zoo YOLOv4 (grid-anchor-attrs, scores already sigmoid) and Darknet exports (raw conv).
 */
export function decodeYoloHeads(
  outputs: OutputMap,
  post: YoloHeadsPostprocess,
  scoreThreshold: number,
): Candidate[] {
  const act = post.scoresActivated ? identity : sigmoid;
  const candidates: Candidate[] = [];
  for (const head of post.heads) {
    const tensor = outputs[head.output];
    if (!tensor) throw new RangeError(`missing model output '${head.output}'`);
    const { data } = tensor;
    const { gh, gw, attrs, at } = headGeometry(
      post.headLayout,
      tensor.dims,
      head.anchors.length,
      head.output,
    );
    const numClasses = attrs - 5;
    const s = head.scaleXY;
    const offset = 0.5 * (s - 1);
    for (let gy = 0; gy < gh; gy++) {
      for (let gx = 0; gx < gw; gx++) {
        for (let a = 0; a < head.anchors.length; a++) {
          const obj = act(data[at(gy, gx, a, 4)] as number);
          if (obj < scoreThreshold) continue;
          const [aw, ah] = head.anchors[a] as [number, number];
          const cx = (sigmoid(data[at(gy, gx, a, 0)] as number) * s - offset + gx) * head.stride;
          const cy = (sigmoid(data[at(gy, gx, a, 1)] as number) * s - offset + gy) * head.stride;
          const w = Math.exp(data[at(gy, gx, a, 2)] as number) * aw;
          const h = Math.exp(data[at(gy, gx, a, 3)] as number) * ah;
          const box = { x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 };
          if (post.multiLabel) {
            for (let c = 0; c < numClasses; c++) {
              const score = obj * act(data[at(gy, gx, a, 5 + c)] as number);
              if (score >= scoreThreshold) candidates.push({ box, classId: c, score });
            }
          } else {
            // The activation is monotonic, so the arg-max of raw scores is the arg-max of probabilities.
            let best = 0;
            let bestRaw = -Infinity;
            for (let c = 0; c < numClasses; c++) {
              const v = data[at(gy, gx, a, 5 + c)] as number;
              if (v > bestRaw) {
                bestRaw = v;
                best = c;
              }
            }
            const score = obj * act(bestRaw);
            if (score >= scoreThreshold) candidates.push({ box, classId: best, score });
          }
        }
      }
    }
  }
  return candidates;
}

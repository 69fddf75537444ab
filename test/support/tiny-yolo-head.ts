/**
 * The smallest YOLO head the postprocessing tests decode by hand: one stride-32 head on a 64×64
 * input, so a 2×2 grid, one anchor (32×16) and two classes (cat, dog): [n,2,2,1,7] per image.
 */
import type { YoloHeadsPostprocess } from '../../lambda/src/core/manifest';

export const TINY_HEAD = {
  post: {
    family: 'yolo-heads',
    headLayout: 'grid-anchor-attrs',
    scoresActivated: true,
    multiLabel: false,
    heads: [{ output: 'h', stride: 32, anchors: [[32, 16]], scaleXY: 1 }],
    scoreThreshold: 0.25,
    iouThreshold: 0.5,
    classAgnosticNms: false,
    maxDetections: 10,
  } satisfies YoloHeadsPostprocess as YoloHeadsPostprocess,
  input: { width: 64, height: 64 },
  labels: { names: ['cat', 'dog'], synsets: null },
  opts: { scoreThreshold: 0.25, iouThreshold: 0.5, maxDetections: 10 },
};

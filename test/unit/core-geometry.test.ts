import {
  planResize,
  roundHalfEven,
  toOriginalBox,
  type Box,
  type ResizePlan,
} from '../../lambda/src/core/geometry';

const IMAGENET_INPUT = { width: 224, height: 224 };
const YOLO_INPUT = { width: 416, height: 416 };

/** Applies a plan forwards by hand (original pixels → model-input pixels), independent of the code. */
function toInputBox(box: Box, plan: ResizePlan, original: { width: number; height: number }): Box {
  switch (plan.mode) {
    case 'letterbox':
      return {
        x1: box.x1 * plan.ratio + plan.pad.left,
        y1: box.y1 * plan.ratio + plan.pad.top,
        x2: box.x2 * plan.ratio + plan.pad.left,
        y2: box.y2 * plan.ratio + plan.pad.top,
      };
    case 'stretch':
    case 'center-crop': {
      const kx = plan.resize.width / original.width;
      const ky = plan.resize.height / original.height;
      const left = plan.mode === 'center-crop' ? plan.crop.left : 0;
      const top = plan.mode === 'center-crop' ? plan.crop.top : 0;
      return { x1: box.x1 * kx - left, y1: box.y1 * ky - top, x2: box.x2 * kx - left, y2: box.y2 * ky - top };
    }
  }
}

function expectBoxClose(actual: Box, expected: Box, digits = 9) {
  for (const k of ['x1', 'y1', 'x2', 'y2'] as const) {
    if (Math.abs(actual[k] - expected[k]) > 10 ** -digits) {
      throw new Error(`box.${k}: expected ${expected[k]}, got ${actual[k]} (${JSON.stringify(actual)})`);
    }
  }
}

describe('roundHalfEven (Python round)', () => {
  it.each([
    [58.5, 58],
    [59.5, 60],
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [16, 16],
    [16.4, 16],
    [16.6, 17],
  ])('rounds %p to %p', (x, want) => {
    expect(roundHalfEven(x)).toBe(want);
  });
});

describe('planResize: center-crop (torchvision Resize(256) + CenterCrop(224))', () => {
  it('landscape 768×576: shorter side to 256 → 341×256, crop left 58 (round-half-even of 58.5), top 16', () => {
    expect(
      planResize({ width: 768, height: 576 }, { mode: 'center-crop', shorterSide: 256 }, IMAGENET_INPUT),
    ).toEqual({
      mode: 'center-crop',
      resize: { width: 341, height: 256 },
      crop: { left: 58, top: 16, width: 224, height: 224 },
    });
  });

  it('portrait 480×640: width becomes 256, height floor(341.33) = 341, crop top 58', () => {
    expect(
      planResize({ width: 480, height: 640 }, { mode: 'center-crop', shorterSide: 256 }, IMAGENET_INPUT),
    ).toEqual({
      mode: 'center-crop',
      resize: { width: 256, height: 341 },
      crop: { left: 16, top: 58, width: 224, height: 224 },
    });
  });

  it('portrait 300×402: height floor(343.04) = 343, crop top rounds 59.5 up to the even 60', () => {
    const plan = planResize(
      { width: 300, height: 402 },
      { mode: 'center-crop', shorterSide: 256 },
      IMAGENET_INPUT,
    );
    expect(plan).toEqual({
      mode: 'center-crop',
      resize: { width: 256, height: 343 },
      crop: { left: 16, top: 60, width: 224, height: 224 },
    });
  });

  it('square image: no rounding, both offsets 16', () => {
    expect(
      planResize({ width: 1000, height: 1000 }, { mode: 'center-crop', shorterSide: 256 }, IMAGENET_INPUT),
    ).toEqual({
      mode: 'center-crop',
      resize: { width: 256, height: 256 },
      crop: { left: 16, top: 16, width: 224, height: 224 },
    });
  });
});

describe('planResize: letterbox', () => {
  it('YOLOv4 centre 416, pad 128, 768×576: ratio 416/768, resize 416×312, pad top 52 bottom 52', () => {
    expect(
      planResize(
        { width: 768, height: 576 },
        { mode: 'letterbox', align: 'center', padValue: 128 },
        YOLO_INPUT,
      ),
    ).toEqual({
      mode: 'letterbox',
      ratio: 416 / 768,
      resize: { width: 416, height: 312 },
      pad: { left: 0, top: 52, right: 0, bottom: 52, value: 128 },
    });
  });

  it('YOLOv4 centre, portrait 500×1000: ratio 0.416, resize 208×416, pad left 104 right 104', () => {
    expect(
      planResize(
        { width: 500, height: 1000 },
        { mode: 'letterbox', align: 'center', padValue: 128 },
        YOLO_INPUT,
      ),
    ).toEqual({
      mode: 'letterbox',
      ratio: 0.416,
      resize: { width: 208, height: 416 },
      pad: { left: 104, top: 0, right: 104, bottom: 0, value: 128 },
    });
  });

  it('centre padding splits an odd remainder with the extra pixel at the bottom/right (floor)', () => {
    // 700×1001: ratio 416/1001, width floor(290.9) = 290 → 126 px of padding, 63 each side.
    const plan = planResize(
      { width: 700, height: 1001 },
      { mode: 'letterbox', align: 'center', padValue: 128 },
      YOLO_INPUT,
    );
    expect(plan).toMatchObject({
      resize: { width: 290, height: 416 },
      pad: { left: 63, right: 63, top: 0, bottom: 0 },
    });
    // 416×301: ratio 1, 115 px of padding → 57 on top, 58 below.
    const odd = planResize(
      { width: 416, height: 301 },
      { mode: 'letterbox', align: 'center', padValue: 128 },
      YOLO_INPUT,
    );
    expect(odd).toMatchObject({
      resize: { width: 416, height: 301 },
      pad: { top: 57, bottom: 58, left: 0, right: 0 },
    });
  });

  it('YOLOX top-left, pad 114, 768×576: image at the origin, all padding bottom/right', () => {
    expect(
      planResize(
        { width: 768, height: 576 },
        { mode: 'letterbox', align: 'top-left', padValue: 114 },
        YOLO_INPUT,
      ),
    ).toEqual({
      mode: 'letterbox',
      ratio: 416 / 768,
      resize: { width: 416, height: 312 },
      pad: { left: 0, top: 0, right: 0, bottom: 104, value: 114 },
    });
  });

  it('upscales a small image (ratio > 1)', () => {
    const plan = planResize(
      { width: 208, height: 104 },
      { mode: 'letterbox', align: 'center', padValue: 128 },
      YOLO_INPUT,
    );
    expect(plan).toEqual({
      mode: 'letterbox',
      ratio: 2,
      resize: { width: 416, height: 208 },
      pad: { left: 0, top: 104, right: 0, bottom: 104, value: 128 },
    });
  });
});

describe('planResize: stretch', () => {
  it('resizes straight to the input size whatever the aspect ratio', () => {
    expect(planResize({ width: 1234, height: 77 }, { mode: 'stretch' }, { width: 320, height: 320 })).toEqual(
      {
        mode: 'stretch',
        resize: { width: 320, height: 320 },
      },
    );
  });
});

describe('toOriginalBox', () => {
  const original = { width: 768, height: 576 };
  const known: Box = { x1: 100, y1: 50, x2: 400.5, y2: 300.25 };

  it('letterbox (centre): maps an input-pixel box back by subtracting the pad and dividing by the ratio', () => {
    const plan = planResize(original, { mode: 'letterbox', align: 'center', padValue: 128 }, YOLO_INPUT);
    // ratio 416/768, pad top 52: input (13, 52+13) → original (24, 24).
    expectBoxClose(toOriginalBox({ x1: 13, y1: 65, x2: 26, y2: 78 }, plan, original), {
      x1: 24,
      y1: 24,
      x2: 48,
      y2: 48,
    });
  });

  it.each([
    ['letterbox centre', { mode: 'letterbox', align: 'center', padValue: 128 } as const, YOLO_INPUT],
    ['letterbox top-left', { mode: 'letterbox', align: 'top-left', padValue: 114 } as const, YOLO_INPUT],
    ['stretch', { mode: 'stretch' } as const, { width: 320, height: 320 }],
    ['center-crop', { mode: 'center-crop', shorterSide: 256 } as const, IMAGENET_INPUT],
  ])('inverts the %s plan: original → input → original round-trips a known box', (_, spec, input) => {
    const plan = planResize(original, spec, input);
    expectBoxClose(toOriginalBox(toInputBox(known, plan, original), plan, original), known);
  });

  it('round-trips on a portrait image too (letterbox pads left/right)', () => {
    const portrait = { width: 500, height: 1000 };
    const plan = planResize(portrait, { mode: 'letterbox', align: 'center', padValue: 128 }, YOLO_INPUT);
    const box = { x1: 10, y1: 20, x2: 490, y2: 990 };
    expectBoxClose(toOriginalBox(toInputBox(box, plan, portrait), plan, portrait), box);
  });

  it('stretch scales each axis separately', () => {
    const plan = planResize({ width: 640, height: 480 }, { mode: 'stretch' }, { width: 320, height: 320 });
    expect(toOriginalBox({ x1: 32, y1: 40, x2: 160, y2: 200 }, plan, { width: 640, height: 480 })).toEqual({
      x1: 64,
      y1: 60,
      x2: 320,
      y2: 300,
    });
  });

  it('clips a box that reaches into the padding or past the edge to the image', () => {
    const plan = planResize(original, { mode: 'letterbox', align: 'center', padValue: 128 }, YOLO_INPUT);
    // y from 10 (inside top pad) to 400 (inside bottom pad: image rows end at 52+312 = 364); x past 416.
    expect(toOriginalBox({ x1: -20, y1: 10, x2: 500, y2: 400 }, plan, original)).toEqual({
      x1: 0,
      y1: 0,
      x2: 768,
      y2: 576,
    });
  });

  it('a box entirely inside the padding collapses to zero height', () => {
    const plan = planResize(original, { mode: 'letterbox', align: 'center', padValue: 128 }, YOLO_INPUT);
    const b = toOriginalBox({ x1: 100, y1: 5, x2: 200, y2: 40 }, plan, original);
    expect(b.y1).toBe(0);
    expect(b.y2).toBe(0);
  });
});

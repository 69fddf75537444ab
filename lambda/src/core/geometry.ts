import type { InputSpec, ResizeSpec } from './manifest';

export interface Size {
  width: number;
  height: number;
}

export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** What the decoder must do to the oriented image, and how to map boxes back. */
export type ResizePlan =
  | {
      mode: 'center-crop';
      resize: Size;
      crop: { left: number; top: number; width: number; height: number };
    }
  | {
      mode: 'letterbox';
      /** Uniform scale from original to input pixels. */
      ratio: number;
      resize: Size;
      pad: { left: number; top: number; right: number; bottom: number; value: number };
    }
  | { mode: 'stretch'; resize: Size };

/** Python's round(): halves go to the even neighbour (torchvision's centre-crop offset). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function planResize(
  original: Size,
  spec: ResizeSpec,
  input: Pick<InputSpec, 'width' | 'height'>,
): ResizePlan {
  const { width: w, height: h } = original;
  switch (spec.mode) {
    case 'center-crop': {
      // torchvision Resize(int): the shorter side becomes S, the longer floor(S * long / short).
      const s = spec.shorterSide;
      const resize =
        w <= h
          ? { width: s, height: Math.floor((s * h) / w) }
          : { width: Math.floor((s * w) / h), height: s };
      const cw = Math.min(input.width, resize.width);
      const ch = Math.min(input.height, resize.height);
      return {
        mode: 'center-crop',
        resize,
        crop: {
          left: roundHalfEven((resize.width - cw) / 2),
          top: roundHalfEven((resize.height - ch) / 2),
          width: cw,
          height: ch,
        },
      };
    }
    case 'letterbox': {
      const ratio = Math.min(input.width / w, input.height / h);
      const nw = Math.max(1, Math.min(input.width, Math.floor(w * ratio)));
      const nh = Math.max(1, Math.min(input.height, Math.floor(h * ratio)));
      const left = spec.align === 'center' ? Math.floor((input.width - nw) / 2) : 0;
      const top = spec.align === 'center' ? Math.floor((input.height - nh) / 2) : 0;
      return {
        mode: 'letterbox',
        ratio,
        resize: { width: nw, height: nh },
        pad: {
          left,
          top,
          right: input.width - nw - left,
          bottom: input.height - nh - top,
          value: spec.padValue,
        },
      };
    }
    case 'stretch':
      return { mode: 'stretch', resize: { width: input.width, height: input.height } };
  }
}

const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);

/** Maps a box in model-input pixels back to original (oriented) image pixels, clipped to the image. */
export function toOriginalBox(box: Box, plan: ResizePlan, original: Size): Box {
  let sx: number, sy: number, dx: number, dy: number;
  switch (plan.mode) {
    case 'letterbox':
      // The pixels were scaled by resize/original per axis (floor makes that a hair under `ratio`).
      sx = original.width / plan.resize.width;
      sy = original.height / plan.resize.height;
      dx = plan.pad.left;
      dy = plan.pad.top;
      break;
    case 'stretch':
      sx = original.width / plan.resize.width;
      sy = original.height / plan.resize.height;
      dx = dy = 0;
      break;
    case 'center-crop': {
      // Detection models are not cropped in practice, but the maths is well defined.
      sx = original.width / plan.resize.width;
      sy = original.height / plan.resize.height;
      dx = -plan.crop.left;
      dy = -plan.crop.top;
      break;
    }
  }
  return {
    x1: clamp((box.x1 - dx) * sx, 0, original.width),
    y1: clamp((box.y1 - dy) * sy, 0, original.height),
    x2: clamp((box.x2 - dx) * sx, 0, original.width),
    y2: clamp((box.y2 - dy) * sy, 0, original.height),
  };
}

/**
 * YOLOv4 stand-in, node for node the zoo's yolov4.onnx (hunglc007 Keras model through tf2onnx,
 * opset 11) as printed in the zoo's onnx-model-validation.ipynb, with tf2onnx's tensor names: the
 * Mish rewrite and the detector's decoding are tested on the exact graph they meet in production.
 *
 * Traits that matter to that code: NHWC input; BN folded into the convs; stride-2 convs padded
 * [1,1,0,0]; Mish as Exp→Add(1)→Log→Tanh→Mul with one shared Reshape(1) constant; in-graph decode
 * per scale (Transpose, Reshape [N,H,W,3,85], Split [4,1,80], Sigmoid), so `[...,0:4]` are raw box
 * terms and `[...,4:85]` are already sigmoided.
 */
import { attr, bytesOf, DT, Graph, seededRandom, type Attr, type ModelSpec } from './onnx-writer';

const M = 'StatefulPartitionedCall/model/';
/** Keras layer suffixes: conv2d, conv2d_1, conv2d_2, … */
const sfx = (n: number) => (n === 0 ? '' : `_${n}`);

/** E[mish(s·z)²] for z ~ N(0,1), s² = variance: the second moment the next layer's init needs. */
function mishM2(variance: number): number {
  const s = Math.sqrt(variance);
  let acc = 0;
  let wsum = 0;
  for (let z = -8; z <= 8; z += 0.01) {
    const w = Math.exp((-z * z) / 2);
    const x = s * z;
    const y = x * Math.tanh(x > 20 ? x : Math.log1p(Math.exp(x)));
    acc += w * y * y;
    wsum += w;
  }
  return acc / wsum;
}

// Mish is not positively homogeneous: its slope at 0 is about 0.6, so a variance-preserving init
// shrinks activations over 72 Mish layers. A pre-activation variance of 4 keeps Mish in its
// near-ReLU regime, where the drift is small.
const MISH_VAR = 4;
const MISH_M2 = mishM2(MISH_VAR);
const LEAKY_M2 = 0.5 * (1 + 0.01);
// A residual branch smaller than the trunk, so 23 residual adds do not blow up the scale.
const RES_TARGET = 1;

/** An activation: tensor name, channels, spatial size, second moment. */
interface Act {
  name: string;
  c: number;
  h: number;
  m2: number;
}

interface ConvOptions {
  act?: 'leaky' | 'mish';
  downsample?: boolean;
  /** Pre-activation variance. */
  target?: number;
  head?: boolean;
}

export function buildYoloV4(seed: number): ModelSpec {
  const g = new Graph('tf2onnx', seed);
  g.inputs.push({ name: 'input_1:0', dataType: DT.FLOAT, dims: ['unk__2104', 416, 416, 3] });
  (
    [
      ['Identity:0', 2105],
      ['Identity_1:0', 2108],
      ['Identity_2:0', 2111],
    ] as const
  ).forEach(([name, unk]) =>
    g.outputs.push({
      name,
      dataType: DT.FLOAT,
      dims: [`unk__${unk}`, `unk__${unk + 1}`, `unk__${unk + 2}`, 3, 85],
    }),
  );

  // The zoo file's constants, names and values.
  g.constInt64('new_shape__2067', [4], [1, 1, 1, 1]);
  g.constInt64('const_slice__931', [1], [0]);
  g.constInt64('const_slice__929', [1], [1]);
  g.constInt64('const_slice__930', [1], [2]);
  g.constInt32('const_fold_opt__2103', [1], [3]);
  g.constInt32('const_fold_opt__2099', [1], [85]);
  g.constInt64('const_fold_opt__2097', [2], [26, 26]);
  g.constInt64('const_fold_opt__2102', [2], [52, 52]);
  g.initializer('const_empty_float__689', DT.FLOAT, [0], Buffer.alloc(0));
  g.constFloat('Reshape__1345:0', [1, 1, 1, 1], [1]);
  g.constInt32('Const__1878', [4], [0, 2, 3, 1]);
  g.node('Reshape', ['Reshape__1345:0', 'new_shape__2067'], ['Transpose__1378:0']);

  const count = { conv: 0, bn: 0, lambda: 0, leaky: 0, add: 0, concat: 0 };

  function conv(x: Act, k: number, cout: number, options: ConvOptions = {}): Act {
    const { act = 'leaky', downsample = false, head = false } = options;
    const target = options.target ?? (act === 'mish' ? MISH_VAR : 1);
    const cname = `${M}conv2d${sfx(count.conv++)}`;
    const fanIn = x.c * k * k;
    const dims = [cout, x.c, k, k];
    let out: string;
    let wName: string;
    let bName: string;
    if (head) {
      out = `${cname}/BiasAdd:0`;
      wName = `${cname}/Conv2D/ReadVariableOp:0`;
      bName = `${cname}/BiasAdd/ReadVariableOp:0`;
      // Per output channel of 3 × [tx, ty, tw, th, obj, 80 classes]: box terms about N(0, 1);
      // objectness and class logits with std 2 around -3.5, so that on a natural-looking input
      // tens to hundreds of anchors pass score 0.25 before NMS, as with the real model.
      const random = seededRandom(wName, g.seed);
      const w = new Float32Array(cout * fanIn);
      const b = new Float32Array(cout);
      for (let o = 0; o < cout; o++) {
        const box = o % 85 < 4;
        const sd = box ? 1 : 2;
        const a = Math.sqrt((3 * sd * sd) / (fanIn * x.m2));
        for (let i = 0; i < fanIn; i++) w[o * fanIn + i] = (2 * random() - 1) * a;
        b[o] = box ? 0 : -3.5;
      }
      g.initializer(wName, DT.FLOAT, dims, bytesOf(w), true);
      g.initializer(bName, DT.FLOAT, [cout], bytesOf(b), true);
    } else {
      out = `${M}batch_normalization${sfx(count.bn++)}/FusedBatchNormV3:0`;
      wName = `${cname}/Conv2D_weights_fused_bn`;
      bName = `${cname}/Conv2D_bias_fused_bn`;
      g.uniform(wName, dims, Math.sqrt((3 * target) / (fanIn * x.m2)));
      g.uniform(bName, [cout], 0.05);
    }
    // Keras' ZeroPadding2D((1,0),(1,0)) before each stride-2 conv becomes asymmetric pads.
    const attrs: Record<string, Attr> = downsample
      ? {
          auto_pad: attr.string('NOTSET'),
          dilations: attr.ints([1, 1]),
          kernel_shape: attr.ints([3, 3]),
          pads: attr.ints([1, 1, 0, 0]),
          strides: attr.ints([2, 2]),
        }
      : {
          dilations: attr.ints([1, 1]),
          kernel_shape: attr.ints([k, k]),
          pads: attr.ints(k === 3 ? [1, 1, 1, 1] : [0, 0, 0, 0]),
          strides: attr.ints([1, 1]),
        };
    const h = downsample ? x.h / 2 : x.h;
    g.macs += cout * fanIn * h * h;
    g.node('Conv', [x.name, wName, bName], [out], attrs);
    if (head) return { name: out, c: cout, h, m2: 1 };
    if (act === 'mish') {
      const L = `${M}lambda${sfx(count.lambda++)}/`;
      g.node('Exp', [out], [`${L}Exp:0`]);
      g.node('Add', ['Transpose__1378:0', `${L}Exp:0`], [`${L}add:0`]);
      g.node('Log', [`${L}add:0`], [`${L}Log:0`]);
      g.node('Tanh', [`${L}Log:0`], [`${L}Tanh:0`]);
      g.node('Mul', [out, `${L}Tanh:0`], [`${L}mul:0`]);
      return { name: `${L}mul:0`, c: cout, h, m2: target === MISH_VAR ? MISH_M2 : mishM2(target) };
    }
    const i = count.leaky++;
    const name = `${M}tf_op_layer_LeakyRelu${sfx(i)}/LeakyRelu${sfx(i)}:0`;
    g.node('LeakyRelu', [out], [name], { alpha: attr.float(0.1) });
    return { name, c: cout, h, m2: LEAKY_M2 * target };
  }
  const mish: ConvOptions = { act: 'mish' };
  const down: ConvOptions = { act: 'mish', downsample: true };

  function concat(xs: Act[]): Act {
    const i = count.concat++;
    const name = `${M}tf_op_layer_concat${sfx(i)}/concat${sfx(i)}:0`;
    g.node(
      'Concat',
      xs.map((t) => t.name),
      [name],
      { axis: attr.int(1) },
    );
    const c = xs.reduce((s, t) => s + t.c, 0);
    return { name, c, h: xs[0]!.h, m2: xs.reduce((s, t) => s + t.m2 * t.c, 0) / c };
  }
  function residual(x: Act, f1: number, f2: number): Act {
    const y = conv(conv(x, 1, f1, mish), 3, f2, { act: 'mish', target: RES_TARGET });
    const i = count.add++;
    const name = `${M}tf_op_layer_add${sfx(i)}/add${sfx(i)}:0`;
    g.node('Add', [x.name, y.name], [name]);
    return { name, c: f2, h: x.h, m2: x.m2 + y.m2 };
  }
  const cspStage = (x: Act, residuals: number, cRoute: number, cRes: number, f1: number, f2: number) => {
    const route = conv(x, 1, cRoute, mish);
    let y = conv(x, 1, cRes, mish);
    for (let i = 0; i < residuals; i++) y = residual(y, f1, f2);
    y = conv(y, 1, cRes, mish);
    return concat([y, route]);
  };

  // CSPDarknet53 (hunglc007 core/backbone.py cspdarknet53).
  g.node('Transpose', ['input_1:0'], [`${M}conv2d/Conv2D__46:0`], { perm: attr.ints([0, 3, 1, 2]) });
  let x: Act = { name: `${M}conv2d/Conv2D__46:0`, c: 3, h: 416, m2: 0.3 };
  x = conv(x, 3, 32, mish);
  x = conv(x, 3, 64, down);
  x = cspStage(x, 1, 64, 64, 32, 64);
  x = conv(x, 1, 64, mish);
  x = conv(x, 3, 128, down);
  x = cspStage(x, 2, 64, 64, 64, 64);
  x = conv(x, 1, 128, mish);
  x = conv(x, 3, 256, down);
  x = cspStage(x, 8, 128, 128, 128, 128);
  x = conv(x, 1, 256, mish);
  const route1 = x;
  x = conv(x, 3, 512, down);
  x = cspStage(x, 8, 256, 256, 256, 256);
  x = conv(x, 1, 512, mish);
  const route2 = x;
  x = conv(x, 3, 1024, down);
  x = cspStage(x, 4, 512, 512, 512, 512);
  x = conv(x, 1, 1024, mish);
  x = conv(x, 1, 512);
  x = conv(x, 3, 1024);
  x = conv(x, 1, 512);
  // SPP; the factors approximate how much each max-pool raises the second moment.
  const spp = x;
  const pools = (
    [
      [13, 6, '', 5],
      [9, 4, '_1', 4],
      [5, 2, '_2', 3],
    ] as const
  ).map(([k, p, s, factor]): Act => {
    const name = `${M}tf_op_layer_MaxPool${s}/MaxPool${s}:0`;
    g.node('MaxPool', [spp.name], [name], {
      kernel_shape: attr.ints([k, k]),
      pads: attr.ints([p, p, p, p]),
      strides: attr.ints([1, 1]),
    });
    return { name, c: spp.c, h: spp.h, m2: spp.m2 * factor };
  });
  x = concat([...pools, x]);
  x = conv(x, 1, 512);
  x = conv(x, 3, 1024);
  x = conv(x, 1, 512);

  // Neck and heads (hunglc007 core/yolov4.py YOLOv4).
  const upsample = (a: Act, [shapeId, sliceId, concatId, resizeId]: readonly number[], size: string): Act => {
    const shape = `Shape__${shapeId}:0`;
    const slice = `Slice__${sliceId}:0`;
    const sizes = `Concat__${concatId}:0`;
    const resized = `Resize__${resizeId}:0`;
    g.node('Shape', [a.name], [shape]);
    g.node('Slice', [shape, 'const_slice__931', 'const_slice__930'], [slice]);
    g.node('Concat', [slice, size], [sizes], { axis: attr.int(0) });
    g.node('Resize', [a.name, 'const_empty_float__689', 'const_empty_float__689', sizes], [resized], {
      coordinate_transformation_mode: attr.string('half_pixel'),
      mode: attr.string('nearest'),
      nearest_mode: attr.string('floor'),
    });
    return { name: resized, c: a.c, h: a.h * 2, m2: a.m2 };
  };
  const five = (a: Act, narrow: number) => {
    let y = conv(a, 1, narrow);
    y = conv(y, 3, narrow * 2);
    y = conv(y, 1, narrow);
    y = conv(y, 3, narrow * 2);
    return conv(y, 1, narrow);
  };
  const route = x;
  x = conv(x, 1, 256);
  x = upsample(x, [692, 694, 696, 697], 'const_fold_opt__2097');
  x = concat([conv(route2, 1, 256), x]);
  x = five(x, 256);
  let r2 = x;
  x = conv(x, 1, 128);
  x = upsample(x, [753, 755, 757, 758], 'const_fold_opt__2102');
  x = concat([conv(route1, 1, 128), x]);
  x = five(x, 128);
  const r1 = x;
  x = conv(x, 3, 256);
  const sbbox = conv(x, 1, 255, { head: true });
  x = conv(r1, 3, 256, { downsample: true });
  x = concat([x, r2]);
  x = five(x, 256);
  r2 = x;
  x = conv(x, 3, 512);
  const mbbox = conv(x, 1, 255, { head: true });
  x = conv(r2, 3, 512, { downsample: true });
  x = concat([x, route]);
  x = five(x, 512);
  x = conv(x, 3, 1024);
  const lbbox = conv(x, 1, 255, { head: true });

  // decode() of hunglc007 core/yolov4.py (May 2020), with tf2onnx's node numbering.
  const heads = [
    {
      act: sbbox,
      t: 1294,
      shape: 1880,
      s: '',
      c6: 956,
      slices: [1, 0],
      cc: 970,
      c7: 971,
      sig: [0, 1],
      out: 'Identity:0',
    },
    {
      act: mbbox,
      t: 1290,
      shape: 1876,
      s: '_1',
      c6: 928,
      slices: [3, 2],
      cc: 942,
      c7: 943,
      sig: [2, 3],
      out: 'Identity_1:0',
    },
    {
      act: lbbox,
      t: 1286,
      shape: 1872,
      s: '_2',
      c6: 900,
      slices: [5, 4],
      cc: 914,
      c7: 915,
      sig: [4, 5],
      out: 'Identity_2:0',
    },
  ] as const;
  const T = `${M}tf_op_layer_`;
  for (const { act, t, shape, s, c6, slices, cc, c7, sig, out } of heads) {
    g.node('Transpose', [act.name], [`Transpose__${t}:0`], { perm: attr.ints([0, 2, 3, 1]) });
    g.node('Shape', [act.name], [`Shape__${shape}:0`]);
    const gathered = `${T}Shape${s}/Shape${s}:0`;
    const int32Shape = `${T}Shape${s}/Shape${s}__${c6}:0`;
    g.node('Gather', [`Shape__${shape}:0`, 'Const__1878'], [gathered]);
    g.node('Cast', [gathered], [int32Shape], { to: attr.int(DT.INT32) });
    const height = `${T}strided_slice_${slices[0]}/strided_slice_${slices[0]}:0`;
    const batch = `${T}strided_slice${sfx(slices[1])}/strided_slice${sfx(slices[1])}:0`;
    g.node('Slice', [int32Shape, 'const_slice__929', 'const_slice__930', 'const_slice__931'], [height]);
    g.node('Slice', [int32Shape, 'const_slice__931', 'const_slice__929', 'const_slice__931'], [batch]);
    const newShape = `${T}Reshape${s}/shape/Reshape${s}/shape_Concat__${cc}:0`;
    const int64Shape = `${T}Reshape${s}/Reshape${s}__${c7}:0`;
    const reshaped = `${T}Reshape${s}/Reshape${s}:0`;
    g.node('Concat', [batch, height, height, 'const_fold_opt__2103', 'const_fold_opt__2099'], [newShape], {
      axis: attr.int(0),
    });
    g.node('Cast', [newShape], [int64Shape], { to: attr.int(DT.INT64) });
    g.node('Reshape', [`Transpose__${t}:0`, int64Shape], [reshaped]);
    const split = `${T}split${s}/split${s}`;
    g.node('Split', [reshaped], [`${split}:0`, `${split}:1`, `${split}:2`], {
      axis: attr.int(-1),
      split: attr.ints([4, 1, 80]),
    });
    const objectness = `${T}Sigmoid${sfx(sig[0])}/Sigmoid${sfx(sig[0])}:0`;
    const classes = `${T}Sigmoid${sfx(sig[1])}/Sigmoid${sfx(sig[1])}:0`;
    g.node('Sigmoid', [`${split}:2`], [classes]);
    g.node('Sigmoid', [`${split}:1`], [objectness]);
    g.node('Concat', [`${split}:0`, objectness, classes], [out], { axis: attr.int(4) });
  }
  return { graph: g, irVersion: 6, opsets: [['', 11]] };
}

/**
 * ResNet-50 v1 stand-ins with the I/O and graph of the zoo's resnet50-v1-12.onnx (MXNet Gluon
 * "resnetv17" export) and of its int8 QOperator sibling resnet50-v1-12-int8.onnx. Tensor names
 * follow the MXNet export so that tools keyed on them (profilers, the MAC counter) see the same
 * graph as with the real file.
 */
import { attr, bytesOf, DT, Graph, seededRandom, type ModelSpec } from './onnx-writer';

/** [blocks, output channels] per stage of BottleneckV1. */
const STAGES = [
  [3, 256],
  [4, 512],
  [6, 1024],
  [3, 2048],
] as const;
const P = 'resnetv17_';
const IO = (g: Graph) => {
  g.inputs.push({ name: 'data', dataType: DT.FLOAT, dims: ['N', 3, 224, 224] });
  g.outputs.push({ name: 'resnetv17_dense0_fwd', dataType: DT.FLOAT, dims: ['N', 1000] });
};
// Each residual branch ends at a smaller variance than the trunk, so 16 adds do not blow it up.
const BRANCH_TARGET = 0.25;
// Logits with std about 3: a peaked softmax that is still not one-hot.
const LOGIT_VAR = 9;
const convOut = (h: number, k: number, s: number, p: number) => Math.floor((h + 2 * p - k) / s) + 1;
const convAttrs = (k: number, s: number, p: number) => ({
  dilations: attr.ints([1, 1]),
  group: attr.int(1),
  kernel_shape: attr.ints([k, k]),
  pads: attr.ints([p, p, p, p]),
  strides: attr.ints([s, s]),
});
const maxPoolAttrs = {
  kernel_shape: attr.ints([3, 3]),
  pads: attr.ints([1, 1, 1, 1]),
  strides: attr.ints([2, 2]),
};

/**
 * Gluon's BottleneckV1: the stride sits on the first 1×1 conv, the body 1×1 convs carry a bias and
 * the 3×3 and downsample convs do not; Add then Relu; GlobalAveragePool, Flatten, Gemm(transB).
 * Weights are scaled so each BN output has a chosen variance given its input's second moment.
 */
export function buildResNet50(seed: number): ModelSpec {
  const g = new Graph('resnet50_v1_random_standin', seed);
  IO(g);
  const info = (name: string, dims: number[]) =>
    g.valueInfo.push({ name, dataType: DT.FLOAT, dims: ['N', ...dims] });

  function convBn(
    prefix: string,
    index: number,
    x: string,
    cin: number,
    cout: number,
    [k, s, p]: [number, number, number],
    bias: boolean,
    m2in: number,
    target: number,
    hin: number,
  ) {
    const conv = `${prefix}conv${index}`;
    const bn = `${prefix}batchnorm${index}`;
    const fanIn = cin * k * k;
    const inputs = [
      x,
      g.uniform(`${conv}_weight`, [cout, cin, k, k], Math.sqrt((3 * target) / (fanIn * m2in))),
    ];
    if (bias) inputs.push(g.uniform(`${conv}_bias`, [cout], 0.01));
    const hout = convOut(hin, k, s, p);
    g.macs += cout * fanIn * hout * hout;
    g.node('Conv', inputs, [`${conv}_fwd`], convAttrs(k, s, p));
    info(`${conv}_fwd`, [cout, hout, hout]);
    const gamma = g.uniform(`${bn}_gamma`, [cout], 0.05, 1);
    const beta = g.uniform(`${bn}_beta`, [cout], 0.02);
    const mean = g.uniform(`${bn}_running_mean`, [cout], 0);
    const variance = g.uniform(`${bn}_running_var`, [cout], 0, 1);
    g.node('BatchNormalization', [`${conv}_fwd`, gamma, beta, mean, variance], [`${bn}_fwd`], {
      epsilon: attr.float(1e-5),
      momentum: attr.float(0.9),
    });
    info(`${bn}_fwd`, [cout, hout, hout]);
    return { out: `${bn}_fwd`, hout };
  }
  const relu = (x: string, name: string, c: number, h: number) => {
    g.node('Relu', [x], [name]);
    info(name, [c, h, h]);
    return name;
  };

  const stem = convBn(P, 0, 'data', 3, 64, [7, 2, 3], false, 1, 1, 224);
  let x = relu(stem.out, `${P}relu0_fwd`, 64, stem.hout);
  g.node('MaxPool', [x], [`${P}pool0_fwd`], maxPoolAttrs);
  x = `${P}pool0_fwd`;
  let h = convOut(stem.hout, 3, 2, 1);
  info(x, [64, h, h]);
  let cin = 64;
  let m2 = 0.5 * 1.5; // after ReLU, then raised by the max-pool

  STAGES.forEach(([blocks, c], si) => {
    const pre = `${P}stage${si + 1}_`;
    let ci = 0;
    let ri = 0;
    for (let b = 0; b < blocks; b++) {
      const down = b === 0;
      const stride = down && si > 0 ? 2 : 1;
      const hin = h;
      let r = convBn(pre, ci, x, cin, c / 4, [1, stride, 0], true, m2, 1, hin);
      let y = relu(r.out, `${pre}relu${ri++}_fwd`, c / 4, r.hout);
      r = convBn(pre, ci + 1, y, c / 4, c / 4, [3, 1, 1], false, 0.5, 1, r.hout);
      y = relu(r.out, `${pre}relu${ri++}_fwd`, c / 4, r.hout);
      r = convBn(pre, ci + 2, y, c / 4, c, [1, 1, 0], true, 0.5, BRANCH_TARGET, r.hout);
      let shortcut = x;
      let m2Shortcut = m2;
      if (down) {
        shortcut = convBn(pre, ci + 3, x, cin, c, [1, stride, 0], false, m2, 1, hin).out;
        m2Shortcut = 1;
        ci += 4;
      } else ci += 3;
      h = r.hout;
      // The double underscore is MXNet's.
      const plus = `${pre}_plus${b}`;
      g.node('Add', [r.out, shortcut], [plus]);
      info(plus, [c, h, h]);
      x = relu(plus, `${pre}activation${b}`, c, h);
      m2 = down ? 0.5 * (m2Shortcut + BRANCH_TARGET) : m2Shortcut + 0.5 * BRANCH_TARGET;
      cin = c;
    }
  });
  g.node('GlobalAveragePool', [x], [`${P}pool1_fwd`]);
  info(`${P}pool1_fwd`, [2048, 1, 1]);
  g.node('Flatten', [`${P}pool1_fwd`], ['flatten_473'], { axis: attr.int(1) });
  info('flatten_473', [2048]);
  const weight = g.uniform(`${P}dense0_weight`, [1000, 2048], Math.sqrt((3 * LOGIT_VAR) / (2048 * 0.5 * m2)));
  const bias = g.uniform(`${P}dense0_bias`, [1000], 0.1);
  g.node('Gemm', ['flatten_473', weight, bias], [`${P}dense0_fwd`], {
    alpha: attr.float(1),
    beta: attr.float(1),
    transA: attr.int(0),
    transB: attr.int(1),
  });
  g.macs += 2048 * 1000;
  return { graph: g, irVersion: 7, opsets: [['', 12]] };
}

interface Quant {
  scale: number;
  zeroPoint: number;
  /** Names of the scale and zero-point initializers. */
  s: string;
  z: string;
}

const MS = 'com.microsoft';
/** Standard deviation of a uniform integer in [-127, 127]. */
const INT8_STD = Math.sqrt((255 * 255 - 1) / 12);
const uniformInt = (random: () => number, lo: number, hi: number) =>
  lo + Math.floor(random() * (hi - lo + 1));

/**
 * QOperator int8 in the style of the zoo file (Intel Neural Compressor, onnxruntime backend), so
 * onnxruntime picks the same u8s8 kernels: uint8 activations, int8 weights with per-output-channel
 * scales and zero zero-points, int32 bias, BN folded, Relu folded into a uint8 range starting at 0.
 * Scales come from tracking variances analytically, not from calibration.
 */
export function buildResNet50Int8(seed: number): ModelSpec {
  const g = new Graph('resnet50_v1_int8_random_standin', seed);
  IO(g);
  const quant = (name: string, scale: number, zeroPoint: number): Quant => ({
    scale,
    zeroPoint,
    s: g.constFloat(`${name}_scale`, [], [scale]),
    z: g.constUint8(`${name}_zero_point`, [], [zeroPoint]),
  });

  function qconv(
    name: string,
    x: string,
    xq: Quant,
    cin: number,
    cout: number,
    [k, s, p]: [number, number, number],
    m2in: number,
    target: number,
    reluFused: boolean,
    hin: number,
  ) {
    const fanIn = cin * k * k;
    const random = seededRandom(`${name}_weight`, seed);
    const wq = new Int8Array(cout * fanIn);
    for (let i = 0; i < wq.length; i++) wq[i] = uniformInt(random, -127, 127);
    const wScale = new Float32Array(cout);
    const base = Math.sqrt(target / (fanIn * m2in)) / INT8_STD;
    for (let o = 0; o < cout; o++) wScale[o] = base * (0.85 + 0.3 * random());
    const w = g.initializer(`${name}_weight_quantized`, DT.INT8, [cout, cin, k, k], bytesOf(wq), true);
    const ws = g.initializer(`${name}_weight_scale`, DT.FLOAT, [cout], bytesOf(wScale));
    const wz = g.constInt8(`${name}_weight_zero_point`, [cout], new Array<number>(cout).fill(0));
    const bias = new Int32Array(cout);
    for (let o = 0; o < cout; o++)
      bias[o] = Math.round((0.02 * (2 * random() - 1)) / (xq.scale * wScale[o]!));
    const b = g.initializer(`${name}_bias_quantized`, DT.INT32, [cout], bytesOf(bias), true);
    const sd = Math.sqrt(target);
    const yq = reluFused
      ? quant(`${name}_fwd`, (4 * sd) / 255, 0)
      : quant(`${name}_fwd`, (8 * sd) / 255, 128);
    const out = `${name}_fwd_quantized`;
    const hout = convOut(hin, k, s, p);
    g.macs += cout * fanIn * hout * hout;
    g.node('QLinearConv', [x, xq.s, xq.z, w, ws, wz, yq.s, yq.z, b], [out], convAttrs(k, s, p), {
      name: `${name}_fwd_quant`,
    });
    return { out, q: yq, hout };
  }

  // Normalised ImageNet input lies in about [-2.12, 2.64].
  const inq = quant('data', 4.8 / 255, 113);
  g.node('QuantizeLinear', ['data', inq.s, inq.z], ['data_quantized'], {}, { name: 'data_QuantizeLinear' });
  const stem = qconv(`${P}conv0`, 'data_quantized', inq, 3, 64, [7, 2, 3], 1, 1, true, 224);
  g.node('MaxPool', [stem.out], [`${P}pool0_fwd_quantized`], maxPoolAttrs);
  let x = `${P}pool0_fwd_quantized`;
  let xq = stem.q;
  let h = convOut(stem.hout, 3, 2, 1);
  let cin = 64;
  let m2 = 0.75;
  STAGES.forEach(([blocks, c], si) => {
    const pre = `${P}stage${si + 1}_`;
    let ci = 0;
    for (let b = 0; b < blocks; b++) {
      const down = b === 0;
      const stride = down && si > 0 ? 2 : 1;
      const hin = h;
      let y = qconv(`${pre}conv${ci}`, x, xq, cin, c / 4, [1, stride, 0], m2, 1, true, hin);
      y = qconv(`${pre}conv${ci + 1}`, y.out, y.q, c / 4, c / 4, [3, 1, 1], 0.5, 1, true, y.hout);
      y = qconv(`${pre}conv${ci + 2}`, y.out, y.q, c / 4, c, [1, 1, 0], 0.5, BRANCH_TARGET, false, y.hout);
      let shortcut = x;
      let sq = xq;
      let m2Shortcut = m2;
      if (down) {
        const d = qconv(`${pre}conv${ci + 3}`, x, xq, cin, c, [1, stride, 0], m2, 1, false, hin);
        shortcut = d.out;
        sq = d.q;
        m2Shortcut = 1;
        ci += 4;
      } else ci += 3;
      h = y.hout;
      m2 = down ? 0.5 * (m2Shortcut + BRANCH_TARGET) : m2Shortcut + 0.5 * BRANCH_TARGET;
      const name = `${pre}_plus${b}`;
      // Output zero-point 0 clips at zero: the stage's Relu is folded into this add.
      const oq = quant(name, (4 * Math.sqrt(2 * m2)) / 255, 0);
      g.node(
        'QLinearAdd',
        [y.out, y.q.s, y.q.z, shortcut, sq.s, sq.z, oq.s, oq.z],
        [`${name}_quantized`],
        {},
        {
          domain: MS,
          name: `${name}_quant`,
        },
      );
      x = `${name}_quantized`;
      xq = oq;
      cin = c;
    }
  });
  const gq = quant(`${P}pool1_fwd`, (2 * Math.sqrt(m2)) / 255, 0);
  g.node(
    'QLinearGlobalAveragePool',
    [x, xq.s, xq.z, gq.s, gq.z],
    [`${P}pool1_fwd_quantized`],
    { channels_last: attr.int(0) },
    { domain: MS, name: `${P}pool1_fwd_quant` },
  );
  g.node('Flatten', [`${P}pool1_fwd_quantized`], ['flatten_473_quantized'], { axis: attr.int(1) });

  // The Gemm becomes QLinearMatMul (int8 weight [2048, 1000]) plus a QLinearAdd of a uint8 bias.
  const random = seededRandom(`${P}dense0_weight`, seed);
  const wq = new Int8Array(2048 * 1000);
  for (let i = 0; i < wq.length; i++) wq[i] = uniformInt(random, -127, 127);
  const fcW = g.initializer(`${P}dense0_weight_quantized`, DT.INT8, [2048, 1000], bytesOf(wq), true);
  const fcWs = g.constFloat(
    `${P}dense0_weight_scale`,
    [],
    [Math.sqrt(LOGIT_VAR / (2048 * 0.5 * m2)) / INT8_STD],
  );
  const fcWz = g.constInt8(`${P}dense0_weight_zero_point`, [], [0]);
  const mq = quant(`${P}dense0_fwd_MatMul`, 24 / 255, 128);
  g.node(
    'QLinearMatMul',
    ['flatten_473_quantized', gq.s, gq.z, fcW, fcWs, fcWz, mq.s, mq.z],
    [`${P}dense0_fwd_MatMul_quantized`],
    {},
    { name: `${P}dense0_fwd_MatMul_quant` },
  );
  const bq = quant(`${P}dense0_bias`, 1 / 255, 128);
  const biasRandom = seededRandom(`${P}dense0_bias`, seed);
  // 103..153 around the zero-point 128 is ±0.1.
  const biasValues = Array.from({ length: 1000 }, () => uniformInt(biasRandom, 103, 153));
  const fcB = g.initializer(
    `${P}dense0_bias_quantized`,
    DT.UINT8,
    [1000],
    bytesOf(Uint8Array.from(biasValues)),
    true,
  );
  const oq = quant(`${P}dense0_fwd`, 24 / 255, 128);
  g.node(
    'QLinearAdd',
    [`${P}dense0_fwd_MatMul_quantized`, mq.s, mq.z, fcB, bq.s, bq.z, oq.s, oq.z],
    [`${P}dense0_fwd_quantized`],
    {},
    { domain: MS, name: `${P}dense0_fwd_Add_quant` },
  );
  g.node(
    'DequantizeLinear',
    [`${P}dense0_fwd_quantized`, oq.s, oq.z],
    [`${P}dense0_fwd`],
    {},
    { name: `${P}dense0_fwd_DequantizeLinear` },
  );
  g.macs += 2048 * 1000;
  return {
    graph: g,
    irVersion: 4,
    opsets: [
      ['', 12],
      [MS, 1],
    ],
  };
}

import { DataType, toNumber, type NodeMsg } from '../../tools/model-prep/onnx-proto';
import { EXP_DIV, type MishForm } from '../../tools/model-prep/onnx-graph-rewrite';

/**
 * The Mish forms the function does not use, kept for bench/sections/mish.ts and the exactness
 * tests (test/slow/mish-rewrite.test.ts). With n = eˣ and t = n·(n+2), tanh(ln(1+n)) = t/(t+2)
 * exactly. docs/performance.md has their measured cost against EXP_DIV (the tool's form).
 */

/** n = exp(min(x, 20)), y = x·t/(t+2). The min avoids inf/inf; for x > 20, t/(t+2) is 1 in float32. */
export const EXP: MishForm = {
  name: 'exp',
  nodes: ({ x, y, constant, tensor, node }) => {
    const [two, cap] = [constant(2), constant(20)];
    const [c, e, a, t, u, r] = ['min', 'exp', 'a', 't', 'u', 'r'].map(tensor) as [
      string, string, string, string, string, string,
    ]; // prettier-ignore
    return [
      node('Min', [x, cap], c),
      node('Exp', [c], e),
      node('Add', [e, two], a),
      node('Mul', [e, a], t),
      node('Add', [t, two], u),
      node('Div', [t, u], r),
      node('Mul', [x, r], y),
    ];
  },
};

/** s = σ(x), p = s·(2−s), y = x·p/(2−p): exact, but σ runs in the convolutions' blocked layout. */
export const SIGMOID: MishForm = {
  name: 'sigmoid',
  nodes: ({ x, y, constant, tensor, node }) => {
    const two = constant(2);
    const [s, q, p, d, r] = ['s', 'q', 'p', 'd', 'r'].map(tensor) as [string, string, string, string, string];
    return [
      node('Sigmoid', [x], s),
      node('Sub', [two, s], q),
      node('Mul', [s, q], p),
      node('Sub', [two, p], d),
      node('Div', [p, d], r),
      node('Mul', [x, r], y),
    ];
  },
};

/** Softplus → Tanh → Mul, the definition itself. */
export const SOFTPLUS: MishForm = {
  name: 'softplus',
  nodes: ({ x, y, tensor, node }) => {
    const [sp, th] = ['softplus', 'tanh'].map(tensor) as [string, string];
    return [node('Softplus', [x], sp), node('Tanh', [sp], th), node('Mul', [x, th], y)];
  },
};

/** Ops whose opset-11 meaning is unchanged at opset 18 (Split is converted). */
const OPSET18_SAFE = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Conv', 'Exp', 'Log', 'Tanh', 'Sigmoid', 'LeakyRelu', 'Relu', 'Concat',
  'Slice', 'Cast', 'Shape', 'Transpose', 'Reshape', 'MaxPool', 'Gather', 'Split', 'Resize', 'Min',
  'Max', 'Softplus', 'Identity', 'Constant', 'Mish',
]); // prettier-ignore

/**
 * The ONNX opset-18 `Mish` operator: the default-domain opset is raised to 18, which only graphs
 * whose other ops keep their meaning allow (Split's `split` attribute becomes an input); anything
 * else is refused.
 */
export const MISH_OP: MishForm = {
  name: 'mish-op',
  nodes: ({ x, y, node }) => [node('Mish', [x], y)],
  adaptGraph: ({ nodes, fresh, addInitializer }) => {
    const unsafe = [...new Set(nodes.map((e) => e.node.op_type ?? ''))].filter((op) => !OPSET18_SAFE.has(op));
    const foreign = nodes.some((e) => (e.node.domain ?? '') !== '');
    if (unsafe.length > 0 || foreign) {
      throw new Error(
        `mish-op needs opset 18; not converting a graph with ${foreign ? 'non-default domains' : unsafe.join(', ')}`,
      );
    }
    for (const e of nodes) {
      if (e.node.op_type !== 'Split' || e.replacement) continue;
      const split = (e.node.attribute ?? []).find((a) => a.name === 'split');
      if (!split) continue;
      const name = fresh(`${e.node.name || 'split'}/split_sizes`);
      const raw = Buffer.alloc(8 * (split.ints?.length ?? 0));
      (split.ints ?? []).forEach((v, i) => raw.writeBigInt64LE(BigInt(toNumber(v)), i * 8));
      addInitializer({ name, data_type: DataType.INT64, dims: [split.ints?.length ?? 0], raw_data: raw });
      const converted: NodeMsg = {
        ...e.node,
        input: [...(e.node.input ?? []), name],
        attribute: (e.node.attribute ?? []).filter((a) => a.name !== 'split'),
      };
      (e as { replacement?: NodeMsg[] }).replacement = [converted];
    }
    return 18;
  },
};

/** Every form, the tool's first. */
export const MISH_FORMS: readonly MishForm[] = [EXP_DIV, EXP, SIGMOID, SOFTPLUS, MISH_OP];

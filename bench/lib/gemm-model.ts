import { DataType, encodeModel } from '../../tools/model-prep/onnx-proto';
import { syntheticInput } from './models';

/** Y = A·B with A [n,n] an input and B [n,n] a constant: 2n³ FLOP per run. */
export function matmulModel(n: number): Uint8Array {
  const weights = syntheticInput(n * n, 11);
  const info = (name: string) => ({
    name,
    type: {
      tensor_type: { elem_type: DataType.FLOAT, shape: { dim: [{ dim_value: n }, { dim_value: n }] } },
    },
  });
  return encodeModel({
    ir_version: 8,
    opset_import: [{ domain: '', version: 13 }],
    producer_name: 'bench',
    graph: {
      name: 'gemm',
      node: [{ op_type: 'MatMul', input: ['A', 'B'], output: ['Y'], name: 'matmul' }],
      initializer: [
        { name: 'B', data_type: DataType.FLOAT, dims: [n, n], raw_data: new Uint8Array(weights.buffer) },
      ],
      input: [info('A')],
      output: [info('Y')],
    },
  });
}

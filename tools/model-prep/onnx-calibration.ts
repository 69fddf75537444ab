import * as ort from 'onnxruntime-node';
import { accumulateRange, type ActivationRange } from './onnx-quantize';

export interface CalibrationInput {
  data: Float32Array;
  dims: number[];
}

/**
 * Runs a model whose graph exposes the activations in `names` (see exposeConvTensors) on each
 * input and returns the range each activation took over all of them.
 */
export async function calibrateActivations(
  model: Uint8Array,
  names: readonly string[],
  inputs: readonly CalibrationInput[],
): Promise<Map<string, ActivationRange>> {
  const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'basic' });
  const ranges = new Map<string, ActivationRange>();
  try {
    const inputName = session.inputNames[0];
    if (!inputName) throw new Error('the model has no input');
    for (const input of inputs) {
      const outputs = await session.run({ [inputName]: new ort.Tensor('float32', input.data, input.dims) }, [
        ...names,
      ]);
      for (const name of names) {
        const value = outputs[name];
        if (value?.type !== 'float32') throw new Error(`activation '${name}' is not float32`);
        accumulateRange(ranges, name, value.data as Float32Array);
        value.dispose();
      }
    }
  } finally {
    await session.release();
  }
  return ranges;
}

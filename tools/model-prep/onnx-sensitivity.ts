import * as ort from 'onnxruntime-node';
import type { CalibrationInput } from './onnx-calibration';
import { DataType, decodeModel, encodeModel } from './onnx-proto';
import { type ActivationRange, convolutionTensors, quantizeConvs } from './onnx-quantize';

export interface ConvSensitivity {
  /** The convolution's output tensor (what quantizeConvs' `keepFloat` names). */
  output: string;
  /** Relative L2 error (‖int8 − float‖ / ‖float‖) of the answers, mean over the inputs. */
  error: number;
}

/** The model with `names` added to its graph outputs (float tensors). */
function withOutputs(bytes: Uint8Array, names: readonly string[]): Uint8Array {
  const model = decodeModel(bytes);
  const graph = model.graph ?? {};
  const have = new Set((graph.output ?? []).map((o) => o.name));
  graph.output = [
    ...(graph.output ?? []),
    ...names
      .filter((n) => !have.has(n))
      .map((name) => ({ name, type: { tensor_type: { elem_type: DataType.FLOAT } } })),
  ];
  model.graph = graph;
  return encodeModel(model);
}

/**
 * How much each convolution alone costs when quantised: the model is run with only that one
 * convolution int8 (its calibrated `ranges`) on each input, and its answers compared with the
 * float model's. The answers are the output convolutions' raw values (YOLO heads' logits, which
 * stay float) or, for a model without any, its graph outputs. Sorted worst first.
 *
 * Why: on YOLOX-nano and Yolo-Fastest the error concentrates in a few early, high-resolution
 * convolutions (wide activation ranges quantised in 256 steps); keeping the worst two float took
 * both to ≥ 0.9 precision and recall against their float model (docs/model-evaluation.md). Costs
 * one session per convolution: seconds for the small models, minutes for YOLOv4.
 */
export async function convSensitivity(
  model: Uint8Array,
  ranges: ReadonlyMap<string, ActivationRange>,
  inputs: readonly CalibrationInput[],
  progress?: (done: number, total: number) => void,
): Promise<ConvSensitivity[]> {
  const { convolutions, heads } = convolutionTensors(model);
  const graphOutputs = (decodeModel(model).graph?.output ?? []).map((o) => o.name ?? '');
  const answers = heads.length > 0 ? heads : graphOutputs;

  const run = async (bytes: Uint8Array): Promise<Float32Array[][]> => {
    const session = await ort.InferenceSession.create(withOutputs(bytes, answers), {
      graphOptimizationLevel: 'basic',
    });
    try {
      const inputName = session.inputNames[0];
      if (!inputName) throw new Error('the model has no input');
      const results: Float32Array[][] = [];
      for (const input of inputs) {
        const out = await session.run({ [inputName]: new ort.Tensor('float32', input.data, input.dims) }, [
          ...answers,
        ]);
        results.push(
          answers.map((name) => {
            const value = out[name];
            if (value?.type !== 'float32') throw new Error(`output '${name}' is not float32`);
            const copy = Float32Array.from(value.data as Float32Array);
            value.dispose();
            return copy;
          }),
        );
      }
      return results;
    } finally {
      await session.release();
    }
  };

  const reference = await run(model);
  const error = (answered: Float32Array[][]) => {
    let sum = 0;
    reference.forEach((outputs, i) => {
      let diff = 0;
      let norm = 0;
      outputs.forEach((want, o) => {
        const got = answered[i]?.[o] ?? new Float32Array(want.length);
        for (let k = 0; k < want.length; k++) {
          const w = want[k] ?? 0;
          diff += (w - (got[k] ?? 0)) ** 2;
          norm += w * w;
        }
      });
      sum += norm > 0 ? Math.sqrt(diff / norm) : 0;
    });
    return reference.length > 0 ? sum / reference.length : 0;
  };

  const result: ConvSensitivity[] = [];
  for (const [done, conv] of convolutions.entries()) {
    const xRange = ranges.get(conv.input);
    const yRange = ranges.get(conv.output);
    if (xRange && yRange) {
      const one = new Map([
        [conv.input, xRange],
        [conv.output, yRange],
      ]);
      // Only this convolution: every other one keeps no range, so quantizeConvs leaves it float.
      const { bytes, quantized } = quantizeConvs(model, one);
      if (quantized > 0) result.push({ output: conv.output, error: error(await run(bytes)) });
    }
    progress?.(done + 1, convolutions.length);
  }
  return result.sort((a, b) => b.error - a.error);
}

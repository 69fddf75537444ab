/** A model output as the core sees it: flat float data plus its dimensions. */
export interface OutputTensor {
  data: Float32Array;
  dims: readonly number[];
}

export type OutputMap = Readonly<Record<string, OutputTensor>>;

import type { ResizePlan, Size } from './geometry';
import type { ModelSpec } from './manifest';
import type { Detection, Labels } from './results';
import type { OutputMap } from './tensor-types';

/** Decoded, oriented and resized pixels, ready for packTensor. */
export interface PreparedImage {
  /** Interleaved RGB bytes at the model's input size. */
  rgb: Uint8Array;
  width: number;
  height: number;
  original: Size;
  format: string;
  plan: ResizePlan;
}

export interface ImageDecoder {
  prepare(bytes: Uint8Array, model: Pick<ModelSpec, 'input' | 'preprocess'>): Promise<PreparedImage>;
  /** Draws detections on the photo and returns a JPEG. */
  annotate(bytes: Uint8Array, detections: readonly Detection[]): Promise<Uint8Array>;
}

export interface LoadedModel {
  run(input: Float32Array, dims: readonly number[]): Promise<OutputMap>;
  dispose(): Promise<void>;
}

export interface ModelRuntime {
  /** Creates a session and checks its real input/output names and shapes against the spec. */
  load(spec: ModelSpec, file: string): Promise<LoadedModel>;
}

export interface ModelFiles {
  /** Finds the model file, verifying its checksum; throws ModelUnavailableError otherwise. */
  locate(spec: ModelSpec): Promise<string>;
  /** True when the file is present (no checksum work). */
  isPresent(spec: ModelSpec): boolean;
  labels(spec: ModelSpec): Promise<Labels>;
}

import { prepareModel } from '../tools/model-prep/onnx-graph-rewrite';

/**
 * On a laptop the first load of a model makes its prepared copy in the cache folder, once; the
 * function only looks copies up (the image build made them).
 */
export async function prepareMissing(
  file: string,
  sha256: string | null,
  preparedDir: string,
): Promise<void> {
  await prepareModel(file, sha256, preparedDir);
}

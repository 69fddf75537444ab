import type { Config } from '../adapters/config';
import { loadManifest } from '../adapters/manifest-loader';
import path from 'node:path';
import { LEDGER_NAME, ModelFileStore } from '../adapters/model-files';
import { OnnxModelRuntime, type OnnxRuntimeOptions } from '../adapters/onnx-runtime';
import { createS3Client, parseS3Uri, S3ModelSource } from '../adapters/s3-model-source';
import { S3BulkStore } from '../adapters/s3-bulk-store';
import { S3UploadStore } from '../adapters/s3-upload-store';
import { SharpImageDecoder } from '../adapters/sharp-decoder';
import { UrlImageFetcher } from '../adapters/url-image-fetcher';
import { ImageSources } from './image-sources';
import { RecognitionService } from './recognition-service';

/** What only some hosts add: the laptop makes missing prepared copies, the function never does. */
export interface ServiceExtras {
  prepareMissing?: OnnxRuntimeOptions['prepareMissing'];
}

/** The composition root: real adapters wired to the facade from a parsed Config. */
export function createService(config: Config, extras: ServiceExtras = {}): RecognitionService {
  const manifest = loadManifest(config.modelsDir, config.userManifest);
  const s3 = config.modelS3Uri
    ? new S3ModelSource(
        createS3Client(config.s3Endpoint, {
          connectTimeoutMs: config.s3ConnectTimeoutMs,
          idleTimeoutMs: config.downloadIdleTimeoutMs,
        }),
        parseS3Uri(config.modelS3Uri),
        config.cacheDir,
        undefined,
        config.downloadIdleTimeoutMs,
      )
    : null;
  const files = new ModelFileStore(
    config.modelPath,
    config.modelsDir,
    config.cacheDir,
    s3
      ? async (spec) => {
          await s3.ensure(spec);
        }
      : undefined,
    // Checksums verified when the prepared copies were made (the image build).
    config.preparedDir ? [path.join(config.preparedDir, LEDGER_NAME)] : [],
  );
  return new RecognitionService({
    manifest,
    files,
    runtime: new OnnxModelRuntime({
      intraOpThreads: config.intraOpThreads,
      preparedDir: config.preparedDir,
      prepareMissing: extras.prepareMissing,
      verify: (file) => files.sha256(file),
      allowSpinning: config.allowSpinning,
    }),
    decoder: new SharpImageDecoder({
      maxPixels: config.maxImagePixels,
      annotatedMaxSide: config.annotatedMaxSide,
    }),
    defaults: { classification: config.defaultClassifier, detection: config.defaultDetector },
    fallbackDefaults: config.fallbackDefaults,
    maxQueuePerModel: config.maxQueuePerModel,
    warmUp: config.warmUp,
    sources: new ImageSources({
      uploads: config.uploads
        ? new S3UploadStore(config.uploads, {
            timeoutMs: config.sourceTimeoutMs,
            connectTimeoutMs: config.s3ConnectTimeoutMs,
          })
        : null,
      urls:
        config.imageUrlAllowedHosts.length > 0
          ? new UrlImageFetcher({
              allowedHosts: config.imageUrlAllowedHosts,
              allowedAddresses: config.imageUrlAllowedAddresses,
              timeoutMs: config.sourceTimeoutMs,
            })
          : null,
      maxReferencedBytes: config.maxSourceBytes,
      bulk: config.bulk
        ? new S3BulkStore(config.bulk, {
            timeoutMs: config.sourceTimeoutMs,
            connectTimeoutMs: config.s3ConnectTimeoutMs,
          })
        : null,
    }),
  });
}

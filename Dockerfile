# Inference Lambda image (x86_64, Node.js 22). CDK builds it from the repo root (lib/inference-function.ts).
# By hand: docker build --platform linux/amd64 --build-arg MODELS="resnet50-v1-12 yolov4" -t image-recognition .
# The build context is allow-listed in .dockerignore: package files, lambda/src, models, the package script.

# Every stage starts from the AWS Lambda Node.js 22 base image, named once here (tag
# public.ecr.aws/lambda/nodejs:22). scripts/pin-base-image.sh asks the registry for the tag's current
# digest and rewrites this line to `…:22@sha256:<digest>`; it needs a network this repository's build
# machine does not have, so the tag is not pinned yet (docs/supply-chain.md).
ARG NODE_BASE=public.ecr.aws/lambda/nodejs:22

# ---- deps: production dependencies for linux/x64 (tsx, esbuild and protobufjs run the build stages) ----
FROM ${NODE_BASE} AS deps
WORKDIR /build
# onnxruntime-node's postinstall downloads CUDA/TensorRT providers from nuget; the CPU binary is already
# in the package, so skip it (and every other install script).
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- models: the .onnx files for /opt/models, sha256-verified against models/manifest.json ----
# Depends only on the manifest, the small models that ship with the repo, the script and the
# downloader it shares with the runtime, so code changes re-use the cached model layer.
FROM ${NODE_BASE} AS models
WORKDIR /build
COPY --from=deps /build/node_modules/ node_modules/
COPY models/manifest.json models/
COPY models/embedded/ models/embedded/
COPY scripts/package-lambda.ts scripts/
COPY lambda/src/adapters/model-download.ts lambda/src/adapters/verified-write.ts lambda/src/adapters/
# Space-separated model ids from models/manifest.json; empty when the function reads its models from S3.
ARG MODELS="resnet50-v1-12 yolov4"
# Optional .cache/models/*.onnx from the build context (CDK stages only the selected files, and only
# with modelsFromCache). The wildcard makes this COPY a no-op when the context has no .cache folder.
COPY .cach[e] /tmp/context-cache/
RUN npx tsx scripts/package-lambda.ts stage-models --models "$MODELS" \
      --from /tmp/context-cache/models:models/embedded --to /opt/models

# ---- build: bundle the handler and assemble /var/task with the same script as `npm run package` ----
FROM ${NODE_BASE} AS build
WORKDIR /build
COPY --from=deps /build/node_modules/ node_modules/
COPY package.json tsconfig.json ./
COPY models/ models/
COPY scripts/package-lambda.ts scripts/
COPY lambda/src/ lambda/src/
COPY lambda/routes.json lambda/
# index.js + models/ (manifest, labels) + package.json + node_modules with onnxruntime-node (linux/x64
# binaries only) and sharp: the folder test/infra/package.test.ts loads in a fresh node process.
RUN npx tsx scripts/package-lambda.ts --out /build/package

# ---- prepared: the models' prepared copies (tools/model-prep: YOLOv4's Mish chains rewritten,
# weights in a file onnxruntime maps), made once here, so no cold start writes 257 MB to /tmp ----
FROM ${NODE_BASE} AS prepared
WORKDIR /build
COPY --from=build /build/ /build/
COPY --from=models /opt/models/ /opt/models/
COPY tools/model-prep/ tools/model-prep/
RUN mkdir -p /opt/prepared-models && \
    MODEL_PATH=/opt/models MODEL_CACHE_DIR=/tmp/model-cache MODEL_PREPARED_DIR=/opt/prepared-models \
    npx tsx tools/model-prep/prepare-models-cli.ts

# ---- runtime ----
FROM ${NODE_BASE}
COPY --from=models /opt/models/ /opt/models/
COPY --from=prepared /opt/prepared-models/ /opt/prepared-models/
COPY --from=build /build/package/ ${LAMBDA_TASK_ROOT}/
# glibc allocator settings of lambda/allocator-env.json (kept equal by test/infra/dockerfile.test.ts):
# large blocks from the heap and kept for reuse, so creating a session does not page-fault every
# 4 KiB of the weights again (docs/performance.md). glibc 2.34 ignores the hugetlb tunable.
# VIPS_BLOCK_UNTRUSTED: libvips refuses its untrusted loaders (the service also checks the format first).
ENV MODEL_PATH=/opt/models \
    MODEL_PREPARED_DIR=/opt/prepared-models \
    NODE_ENV=production \
    VIPS_BLOCK_UNTRUSTED=1 \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=33554432 \
    MALLOC_TRIM_THRESHOLD_=1073741824 \
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1
CMD ["index.handler"]

/**
 * The Open Inference Protocol (KServe / Triton "v2" REST) over the same service as /classifier and
 * /detector: server and model metadata, liveness and readiness, and inference on encoded photos
 * (BYTES) or on tensors the client packed (FP32). Errors take the protocol's form, `{"error": …}`,
 * with the project's stable `code` beside it and the status of the one table.
 */
import {
  InvalidParameterError,
  InvalidRequestError,
  MethodNotAllowedError,
  type RecognitionError,
} from '../../../core/errors';
import { parseOptions, type RecognitionOptions } from '../../../core/options';
import type { ClassificationResult, DetectionResult } from '../../../core/results';
import type { RecognitionService } from '../../../service/recognition-service';
import type { ApiRequest, ApiResponse, JsonBody } from '../api-types';
import { STATUS_BY_CODE } from '../error-status';
import type { RouteMatch } from '../routes';
import { floatsOf, imagesOf, readInferRequest, type InferRequest } from './infer-request';
import {
  classificationOutputs,
  detectionOutputs,
  IMAGE_INPUT,
  modelMetadata,
  rawOutputs,
  type ResponseTensor,
} from './tensors';
import { version } from '../../../../../package.json';

/** What this server tells v2 clients about itself (GET /v2). */
export const SERVER_METADATA = {
  name: 'image-recognition-api',
  version,
  extensions: ['classification', 'binary_tensor_data'],
};

export interface V2Limits {
  maxImageBytes: number;
  maxImages: number;
}

const HEADERS = {
  'Content-Type': 'application/json; charset=utf-8',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
};

const json = (statusCode: number, body: JsonBody): ApiResponse => ({
  statusCode,
  headers: { ...HEADERS },
  body,
});

/** An error as the protocol shows it: `{"error": message, "code"}`, with Retry-After and Allow. */
export function v2ErrorResponse(e: RecognitionError, requestId: string): ApiResponse {
  const response = json(STATUS_BY_CODE[e.code], {
    error: e.code === 'INTERNAL' ? `Internal error; quote request id ${requestId}.` : e.message,
    code: e.code,
  });
  const retryAfter = e.details.retryAfterSeconds;
  if (typeof retryAfter === 'number') response.headers['Retry-After'] = String(retryAfter);
  if (e instanceof MethodNotAllowedError) response.headers.Allow = e.allowed.join(', ');
  return response;
}

/** Ready or not, in the protocol's probe form: 200, or 503 with why (and when to ask again). */
function readinessResponse(
  state: ReturnType<RecognitionService['readiness']>,
  name: string | undefined,
): ApiResponse {
  const named = name === undefined ? {} : { name };
  if (state.ready) return json(200, { ...named, ready: true });
  const response = json(503, {
    ...named,
    ready: false,
    error: `Model '${state.model}' ${state.reason}.`,
  });
  if (state.retryAfterSeconds !== undefined)
    response.headers['Retry-After'] = String(state.retryAfterSeconds);
  return response;
}

/** One v2 route's answer; throws RecognitionErrors for {@link v2ErrorResponse}. */
export async function handleInferenceProtocol(
  service: RecognitionService,
  match: RouteMatch,
  req: ApiRequest,
  limits: V2Limits,
  signal: AbortSignal,
): Promise<ApiResponse> {
  const model = match.params.model;
  switch (match.route.path) {
    case '/v2':
      return json(200, SERVER_METADATA);
    case '/v2/health/live':
      return json(200, { live: true });
    case '/v2/health/ready':
      return readinessResponse(service.readiness(), undefined);
    case '/v2/models/{model}':
      return json(200, modelMetadata(service.spec(model ?? '')));
    case '/v2/models/{model}/ready':
      service.spec(model ?? '');
      return readinessResponse(service.modelReadiness(model ?? ''), model);
    case '/v2/models/{model}/infer': {
      const request = readInferRequest(req.body, req.headers['inference-header-content-length']);
      const outputs = await infer(service, model ?? '', request, limits, signal);
      return json(200, {
        model_name: model,
        ...(request.id !== undefined ? { id: request.id } : {}),
        outputs,
      });
    }
    default:
      throw new Error(`v2 route ${match.route.path} has no handler`);
  }
}

async function infer(
  service: RecognitionService,
  id: string,
  request: InferRequest,
  limits: V2Limits,
  signal: AbortSignal,
): Promise<ResponseTensor[]> {
  const spec = service.spec(id);
  const [input, extra] = request.inputs;
  if (!input || extra) {
    throw new InvalidRequestError(
      `Model '${id}' takes one input: '${IMAGE_INPUT}' (BYTES: encoded photos) or '${spec.input.name}' (FP32, the packed tensor).`,
    );
  }
  if (input.datatype === 'FP32') {
    const data = floatsOf(input);
    const { outputs } = await service.runTensor(id, data, input.shape, signal);
    const labels = spec.task === 'classification' ? await service.labels(id) : null;
    return rawOutputs(spec, outputs, request.outputs, labels);
  }
  if (input.datatype !== 'BYTES') {
    throw new InvalidRequestError(
      `Input '${input.name}' is ${input.datatype}; model '${id}' takes BYTES (encoded photos) or FP32 (the packed tensor).`,
    );
  }
  const images = imagesOf(input, limits);
  const options: RecognitionOptions = { ...parseOptions(request.parameters, spec.task), model: id };
  if (spec.task === 'classification' && options.minConfidence !== undefined) {
    throw new InvalidParameterError(
      'minConfidence',
      `'minConfidence' is not taken by v2 classifiers: they answer every class's probability (or the top k with the classification extension).`,
    );
  }
  // A classifier answers every class's probability: all of them ranked, none dropped.
  const asked = spec.task === 'classification' ? { ...options, topK: spec.numClasses } : options;
  const items = await service.recognizeBatch(spec.task, images, asked, signal);
  const results = items.map((item, i) => {
    if (item.ok) return item.result;
    // The protocol has no per-image errors: the first image that failed fails the request.
    const { error } = item;
    error.message = `Image ${i}: ${error.message}`;
    throw error;
  });
  if (spec.task === 'classification') {
    return classificationOutputs(
      spec,
      results as ClassificationResult[],
      request.outputs,
      await service.labels(id),
    );
  }
  return detectionOutputs(results as DetectionResult[], request.outputs);
}

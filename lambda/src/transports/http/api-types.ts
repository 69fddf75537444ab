/** A transport-neutral HTTP request: what API Gateway events, node:http requests and the CLI become. */
export interface ApiRequest {
  method: string;
  path: string;
  query: Readonly<Record<string, string | undefined>>;
  /** Lower-cased header names. */
  headers: Readonly<Record<string, string | undefined>>;
  body: Buffer;
  requestId: string;
  /**
   * When the answer must be ready (epoch ms), if the transport has a hard end of its own: the Lambda
   * fills it from its remaining time, less what returning the answer takes.
   */
  deadlineMs?: number;
}

/** A JSON answer, kept as a value until a transport writes it. */
export type JsonBody = Readonly<Record<string, unknown>>;

export interface ApiResponse {
  statusCode: number;
  headers: Record<string, string>;
  /** A JSON value, or bytes (format=image, the empty preflight answer). */
  body: JsonBody | Buffer;
  /**
   * The JSON body already serialised, when the API had to measure it (answers that may be large):
   * transports send this text rather than serialising the body a second time.
   */
  serialized?: string;
}

/** The bytes a transport sends for a response body. */
export function bodyBytes(response: ApiResponse): Buffer {
  if (Buffer.isBuffer(response.body)) return response.body;
  return Buffer.from(response.serialized ?? JSON.stringify(response.body), 'utf8');
}

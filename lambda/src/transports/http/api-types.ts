/** A transport-neutral HTTP request: what both API Gateway events and node:http requests become. */
export interface ApiRequest {
  method: string;
  path: string;
  query: Readonly<Record<string, string | undefined>>;
  /** Lower-cased header names. */
  headers: Readonly<Record<string, string | undefined>>;
  body: Buffer;
  requestId: string;
}

export interface ApiResponse {
  statusCode: number;
  headers: Record<string, string>;
  /** A string for JSON, a Buffer for binary (format=image). */
  body: string | Buffer;
}

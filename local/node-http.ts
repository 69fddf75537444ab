import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { bodyBytes, type ApiRequest, type ApiResponse } from '../lambda/src/transports/http/api-types';

/** A node:http request (its body already read) as the neutral request the API takes. */
export function fromNodeRequest(req: IncomingMessage, url: URL, body: Buffer): ApiRequest {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers,
    body,
    requestId: randomUUID(),
  };
}

export function writeApiResponse(res: ServerResponse, response: ApiResponse): void {
  const body = bodyBytes(response);
  res.writeHead(response.statusCode, { ...response.headers, 'Content-Length': String(body.length) });
  res.end(body);
}

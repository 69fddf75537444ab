import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Shared fixtures for the model-fetch, S3 and fault tests: real files, temp folders, child processes. */

import { REPO_ROOT } from './fixtures';

export { EMBEDDED_MODELS, FIXTURE_IMAGES, REPO_ROOT } from './fixtures';
export const MOBILENET_ID = 'mobilenetv2-12-int8';
export const MOBILENET_FILE = 'mobilenetv2-12-int8.onnx';
export const MOBILENET_SHA256 = '83530ad811bc31d2b60a5599a21265a5057608c9b044b4ee758cc22f2309f54f';
export const YOLOX_ID = 'yolox-nano';
export const YOLOX_FILE = 'yolox_nano.onnx';
export const DOG_LABELS = ['Alaskan Malamute', 'husky', 'Siberian Husky'];

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Keeps the runtime's logs and metrics out of the test output. */
export function quietTelemetry(): void {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
}

/** Temp folders created through here are removed by cleanupTempDirs(). */
const created: string[] = [];
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `${prefix}-`));
  created.push(dir);
  return dir;
}
export function cleanupTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Leftover temp files of verified-write (`<dest>.partial-<pid>-<hex>`) in a folder. */
export function partialFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.includes('.partial-')) : [];
}

/** Writes a user manifest ({"models": [...]}) and returns its path. */
export function writeManifest(
  dir: string,
  models: Record<string, unknown>[],
  name = 'user-manifest.json',
): string {
  const file = path.join(dir, name);
  writeFileSync(file, JSON.stringify({ models }));
  return file;
}

/**
 * The env a test service or child process needs, on top of the current one. These tests decide
 * which model files exist, so the embedded models are not on the search path.
 */
export function testEnv(overrides: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    ORT_INTRA_OP_THREADS: '1',
    EMBEDDED_MODELS: 'off',
    ...overrides,
  };
}

/** An API Gateway (REST, proxy) event posting raw image bytes. */
export function proxyEvent(
  route: '/classifier' | '/detector',
  image: Buffer,
  query: Record<string, string> = {},
  requestId = `req-${Math.random().toString(16).slice(2)}`,
): APIGatewayProxyEvent {
  return {
    httpMethod: 'POST',
    path: route,
    resource: route,
    headers: { 'Content-Type': 'image/jpeg' },
    multiValueHeaders: {},
    queryStringParameters: query,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: image.toString('base64'),
    isBase64Encoded: true,
    requestContext: { requestId } as APIGatewayProxyEvent['requestContext'],
  };
}

export interface ErrorBodyJson {
  statusCode: number;
  error: string;
  message: string;
  requestId: string;
  details?: Record<string, unknown>;
}

/** The parsed JSON body of a handler result; callers state the shape they expect. */
export const parseBody = (res: unknown): unknown => JSON.parse((res as APIGatewayProxyResult).body);

export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a TypeScript entry point with the repo's tsx (what `npm run …` runs), bounded in time. */
export function runTsx(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 60_000,
): Promise<ChildResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), [script, ...args], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`${script} ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`),
      );
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

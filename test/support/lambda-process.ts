import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { spawnSync } from 'node:child_process';

export interface HandlerRun {
  results: APIGatewayProxyResult[];
  /** Where the process resolved the native packages from. */
  resolved: { ort: string; sharp: string };
}

/** A REST API proxy event carrying a photo, as API Gateway sends it. */
export function photoEvent(
  route: string,
  photo: Buffer,
  query: Record<string, string> = {},
): APIGatewayProxyEvent {
  return {
    resource: route,
    path: route,
    httpMethod: 'POST',
    headers: { 'Content-Type': 'image/jpeg' },
    queryStringParameters: Object.keys(query).length > 0 ? query : null,
    requestContext: { requestId: `fresh-process-${route}`, stage: 'prod' },
    isBase64Encoded: true,
    body: photo.toString('base64'),
  } as unknown as APIGatewayProxyEvent;
}

/**
 * Loads `<taskRoot>/<module>.js` in a fresh node process with only `env` (no NODE_PATH, nothing of
 * this process) and calls its `handler` export with each event in turn, as Lambda's runtime would.
 */
export function invokeInFreshProcess(
  taskRoot: string,
  handlerName: string,
  env: NodeJS.ProcessEnv,
  events: APIGatewayProxyEvent[],
): HandlerRun {
  const [file, exported] = handlerName.split('.');
  const script = `
    const mod = require('./${file}.js');
    let input = '';
    process.stdin.on('data', (d) => { input += d; }).on('end', async () => {
      const context = { awsRequestId: 'fresh-process', functionName: 'image-recognition', getRemainingTimeInMillis: () => 28000 };
      const results = [];
      for (const event of JSON.parse(input)) results.push(await mod['${exported}'](event, context));
      const resolved = { ort: require.resolve('onnxruntime-node'), sharp: require.resolve('sharp') };
      process.stdout.write('\\n@@RESULT@@' + JSON.stringify({ results, resolved }) + '\\n');
    });`;
  const res = spawnSync(process.execPath, ['-e', script], {
    cwd: taskRoot,
    env,
    input: JSON.stringify(events),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const marker = res.stdout.lastIndexOf('@@RESULT@@');
  if (res.status !== 0 || marker < 0)
    throw new Error(`handler process failed (${res.status}):\n${res.stderr}\n${res.stdout}`);
  return JSON.parse(res.stdout.slice(marker + '@@RESULT@@'.length)) as HandlerRun;
}

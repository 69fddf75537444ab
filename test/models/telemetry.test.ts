/**
 * The handler logs one structured JSON line per request (request id, route, status, stage
 * timings) and publishes CloudWatch EMF metrics; it never logs the image or the body.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { loadConfig } from '../../lambda/src/adapters/config';
import { createService } from '../../lambda/src/service/create-service';
import { createLambdaHandler, createTelemetry } from '../../lambda/src/transports/lambda-handler';
import { photo, smallModelEnv } from '../support/fixtures';

it('writes a JSON log line and an EMF metrics line per request, without image bytes', async () => {
  const env = smallModelEnv({ POWERTOOLS_LOG_LEVEL: 'INFO', POWERTOOLS_METRICS_DISABLED: 'false' });
  const config = loadConfig(env);
  const service = createService(config);
  // Powertools Metrics reads its on/off switch from process.env itself (the suite's default is off).
  const savedSwitch = process.env.POWERTOOLS_METRICS_DISABLED;
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  // Lambda sets this for an on-demand execution environment; Powertools counts a cold start only then.
  const savedInit = process.env.AWS_LAMBDA_INITIALIZATION_TYPE;
  process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
  const handler = createLambdaHandler(service, config, { telemetry: createTelemetry(env) });
  const dog = photo('dog.jpg');
  const lines: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    for (const body of [dog, Buffer.from('not an image')]) {
      await handler({
        httpMethod: 'POST',
        path: '/classifier',
        headers: { 'Content-Type': 'image/jpeg', 'x-api-key': 'secret-key-123' },
        queryStringParameters: null,
        body: body.toString('base64'),
        isBase64Encoded: true,
        requestContext: { requestId: `req-${body.length}` },
      } as unknown as APIGatewayProxyEvent);
    }
  } finally {
    write.mockRestore();
    process.env.POWERTOOLS_METRICS_DISABLED = savedSwitch;
    if (savedInit === undefined) delete process.env.AWS_LAMBDA_INITIALIZATION_TYPE;
    else process.env.AWS_LAMBDA_INITIALIZATION_TYPE = savedInit;
    await service.close();
  }
  const records = lines
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>);
  const logs = records.filter((r) => r.message === 'request');
  const emf = records.filter((r) => r._aws?.CloudWatchMetrics);
  expect(logs.map((l) => [l.requestId, l.statusCode])).toEqual([
    [`req-${dog.length}`, 200],
    ['req-12', 415],
  ]);
  expect(logs[0]!.timings).toMatchObject({ inferenceMs: expect.any(Number), totalMs: expect.any(Number) });
  expect(logs[1]!.errorCode).toBe('UNSUPPORTED_MEDIA_TYPE');
  const metricNames = emf.flatMap((r) =>
    r._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name),
  );
  expect(metricNames).toEqual(expect.arrayContaining(['Latency', 'InferenceLatency', 'ColdStart', 'Errors']));
  expect(metricNames.filter((n) => n === 'ColdStart')).toHaveLength(1);
  const errors = emf.find((r) => r.Errors !== undefined);
  expect(errors?.errorCode).toBe('UNSUPPORTED_MEDIA_TYPE');
  const everything = lines.join('');
  expect(everything).not.toContain(dog.toString('base64').slice(0, 64));
  expect(everything).not.toContain('secret-key-123');
  expect(everything).not.toContain('not an image');
});

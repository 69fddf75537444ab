/**
 * format=image answers within Lambda's response limit: the annotated photo is scaled down to
 * ANNOTATED_MAX_SIDE (boxes drawn at the new scale), and an answer still over MAX_RESPONSE_BYTES is
 * a 413 RESPONSE_TOO_LARGE in the API's error shape, never an API Gateway 502.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import sharp from 'sharp';
import { loadConfig } from '../../lambda/src/adapters/config';
import { createService } from '../../lambda/src/service/create-service';
import type { RecognitionService } from '../../lambda/src/service/recognition-service';
import { createLambdaHandler } from '../../lambda/src/transports/lambda-handler';
import { photo, smallModelEnv } from '../support/fixtures';
import { photoEvent } from '../support/lambda-process';

jest.setTimeout(120_000);

/** A 40-megapixel JPEG (8000×5000) with dog.jpg in it, small on the wire: flat background. */
async function fortyMegapixelPhoto(): Promise<Buffer> {
  const dog = await sharp(photo('dog.jpg')).resize(4000).toBuffer();
  return sharp({ create: { width: 8000, height: 5000, channels: 3, background: '#7f9fbf' } })
    .composite([{ input: dog, top: 1000, left: 2000 }])
    .jpeg({ quality: 80 })
    .toBuffer();
}

const services: RecognitionService[] = [];
function handlerWith(env: Record<string, string>) {
  const config = loadConfig(smallModelEnv({ MAX_IMAGE_BYTES: '4500000', ...env }));
  const service = createService(config);
  services.push(service);
  return createLambdaHandler(service, config);
}
afterAll(async () => {
  await Promise.all(services.map((s) => s.close()));
});

it('a 40 MP photo comes back annotated at 2048 px on its longest side, boxes on the dog', async () => {
  const big = await fortyMegapixelPhoto();
  expect((await sharp(big).metadata()).width).toBe(8000);
  const res = (await handlerWith({})(
    photoEvent('/detector', big, { format: 'image' }),
  )) as APIGatewayProxyResult;
  expect(res.statusCode).toBe(200);
  expect(Number(res.headers?.['X-Detections'])).toBeGreaterThan(0);
  const jpeg = Buffer.from(res.body, 'base64');
  const meta = await sharp(jpeg).metadata();
  expect({ width: meta.width, height: meta.height, format: meta.format }).toEqual({
    width: 2048,
    height: 1280,
    format: 'jpeg',
  });
  // Drawn pixels: where the annotated photo differs from the same photo scaled without boxes.
  const plain = await sharp(big).resize(2048, 1280, { fit: 'fill' }).raw().toBuffer();
  const drawn = await sharp(jpeg).raw().toBuffer();
  const scale = 2048 / 8000;
  const dogBox = { x1: 2000 * scale, y1: 1000 * scale, x2: 6000 * scale, y2: 4000 * scale };
  let onDog = 0;
  let farAway = 0;
  for (let p = 0; p < 2048 * 1280; p++) {
    const diff = [0, 1, 2].reduce(
      (sum, c) => sum + Math.abs((drawn[p * 3 + c] ?? 0) - (plain[p * 3 + c] ?? 0)),
      0,
    );
    if (diff < 150) continue;
    const [x, y] = [p % 2048, Math.floor(p / 2048)];
    if (x >= dogBox.x1 && x <= dogBox.x2 && y >= dogBox.y1 && y <= dogBox.y2) onDog++;
    else if (x < dogBox.x1 - 100 && y > dogBox.y1) farAway++;
  }
  expect(onDog).toBeGreaterThan(500);
  expect(farAway).toBe(0);
});

it('an annotated answer over MAX_RESPONSE_BYTES is a 413 RESPONSE_TOO_LARGE, and JSON still answers', async () => {
  const handler = handlerWith({ MAX_RESPONSE_BYTES: '20000' });
  const res = (await handler(
    photoEvent('/detector', photo('dog.jpg'), { format: 'image' }),
  )) as APIGatewayProxyResult;
  expect(res.statusCode).toBe(413);
  expect(JSON.parse(res.body)).toMatchObject({ statusCode: 413, error: 'RESPONSE_TOO_LARGE' });
  const json = (await handler(photoEvent('/detector', photo('dog.jpg')))) as APIGatewayProxyResult;
  expect(json.statusCode).toBe(200);
});

/**
 * Needs Debian's libheif-examples (`heif-enc`) to make a real HEIC photo, so it runs in
 * `npm run test:system` (which .ci/run calls after installing the package), not in `npm test`.
 * sharp's prebuilt libvips reads HEIF containers but has no HEVC decoder.
 */
import { startLocalServer, type LocalServer } from '../../local/server';
import { heicPhoto, MALAMUTE_FAMILY, photo, smallModelEnv } from '../support/fixtures';

let server: LocalServer;
beforeAll(async () => {
  server = await startLocalServer({ port: 0, env: smallModelEnv() });
});
afterAll(() => server.close());

const post = async (body: Buffer, type: string) => {
  const res = await fetch(`${server.url}/classifier`, {
    method: 'POST',
    body: new Uint8Array(body),
    headers: { 'Content-Type': type },
  });
  return {
    status: res.status,
    body: (await res.json()) as { error?: string; message?: string; label?: string },
  };
};

it('answers a HEIC (HEVC) photo with 415 UNSUPPORTED_MEDIA_TYPE that says what to send instead', async () => {
  const r = await post(await heicPhoto(), 'image/heic');
  expect({ status: r.status, code: r.body.error }).toEqual({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
  expect(r.body.message).toMatch(/JPEG|PNG/);
});

it('keeps serving after the HEIC photo', async () => {
  const r = await post(photo('dog.jpg'), 'image/jpeg');
  expect(r.status).toBe(200);
  expect(MALAMUTE_FAMILY).toContain(r.body.label);
});

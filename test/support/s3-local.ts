import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/** The bits of s3rver 3 (untyped JavaScript) the tests use. */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
}
type S3rverCtor = new (options: Record<string, unknown>) => S3rverInstance;
const S3rver = createRequire(__filename)('s3rver') as S3rverCtor;

/** s3rver's built-in account; the SDK signs with it and s3rver checks the signature. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * createS3Client(endpoint) builds a client without explicit credentials or region, so the SDK
 * reads them from the environment.
 */
export function useS3rverEnv(): void {
  process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
  process.env.AWS_REGION = 'us-east-1';
  // The SDK warns once about node 20 support ending; it says nothing about these tests.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
}

export interface LocalS3 {
  port: number;
  endpoint: string;
  client: S3Client;
  put(key: string, body: Uint8Array): Promise<void>;
  remove(key: string): Promise<void>;
  close(): Promise<void>;
}

/** A real S3 API (s3rver) on 127.0.0.1 with one bucket, stored in `directory`. */
export async function startLocalS3(directory: string, bucket: string): Promise<LocalS3> {
  const s3rver = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await s3rver.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
  });
  let closed = false;
  return {
    port,
    endpoint,
    client,
    async put(key, body) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    async remove(key) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },
    async close() {
      if (closed) return;
      closed = true;
      client.destroy();
      s3rver.httpServer?.closeAllConnections();
      await s3rver.close();
    },
  };
}

export interface CuttingProxy {
  port: number;
  endpoint: string;
  /** TCP connections accepted so far. */
  readonly connections: number;
  /** Connections cut (or, with `stall`, stalled) so far. */
  readonly cuts: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of a local server that cuts the first `cutConnections` connections after
 * `cutAfterBytes` bytes have gone back to the client (a download interrupted mid-transfer). With
 * `stall`, it does not cut them but sends nothing more while keeping them open (a connection that
 * died without a reset); `cutAfterBytes: 0` stalls before the answer's headers. The bytes pass
 * unchanged, so the SDK's signature (which covers the Host header) still checks out.
 */
export async function startCuttingProxy(
  targetPort: number,
  options: {
    cutAfterBytes: number;
    cutConnections: number;
    onCut?: () => void;
    cutDelayMs?: number;
    stall?: boolean;
  },
): Promise<CuttingProxy> {
  let connections = 0;
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const index = ++connections;
    const target = connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(target);
    const cutThis = index <= options.cutConnections;
    let sent = 0;
    let cutting = false;
    const destroyBoth = () => {
      client.destroy();
      target.destroy();
    };
    client.on('error', destroyBoth);
    target.on('error', destroyBoth);
    client.on('close', () => {
      sockets.delete(client);
      target.destroy();
    });
    target.on('close', () => {
      sockets.delete(target);
      client.destroy();
    });
    client.on('data', (chunk: Buffer) => target.write(chunk));
    target.on('data', (chunk: Buffer) => {
      if (!cutThis) {
        client.write(chunk);
        return;
      }
      if (cutting) return;
      const room = options.cutAfterBytes - sent;
      if (room > chunk.length) {
        sent += chunk.length;
        client.write(chunk);
        return;
      }
      cutting = true;
      target.pause();
      if (options.stall) {
        cuts++;
        client.write(chunk.subarray(0, Math.max(0, room)));
        return;
      }
      client.write(chunk.subarray(0, Math.max(0, room)), () => {
        setTimeout(() => {
          cuts++;
          options.onCut?.();
          destroyBoth();
        }, options.cutDelayMs ?? 50);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    get cuts() {
      return cuts;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/**
 * Child process for the concurrency section: `npm start`'s server alone in its process, so its CPU
 * time (every thread's, onnxruntime's included) can be read from /proc without the load generator's.
 * Prints {"event": "listening", "url"} once the preloaded models are ready; stops on SIGTERM.
 */
import { startLocalServer } from '../../local/server';

async function main() {
  const server = await startLocalServer({ port: 0, env: process.env });
  const outcomes = await server.preload;
  const failed = outcomes.filter((o) => !o.ok);
  if (failed.length > 0) throw new Error(`preload failed: ${JSON.stringify(failed)}`);
  process.stdout.write(`${JSON.stringify({ event: 'listening', url: server.url })}\n`);
  process.once('SIGTERM', () => {
    void server.close().then(() => process.exit(0));
  });
}

main().catch((e: unknown) => {
  process.stdout.write(`${JSON.stringify({ event: 'error', message: String(e) })}\n`);
  process.exit(1);
});

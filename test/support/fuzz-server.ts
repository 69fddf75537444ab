/**
 * The local server in a process of its own, for tests that must see a crash as a crash (inside
 * Jest an uncaught exception is caught by the test runner and the server seems to live on).
 * Env: whatever the parent passes. Prints one JSON line {"url": ...} once listening.
 */
import { startLocalServer } from '../../local/server';

void startLocalServer({ port: 0, env: process.env }).then((server) => {
  process.stdout.write(JSON.stringify({ url: server.url, pid: process.pid }) + '\n');
  process.once('SIGTERM', () => {
    void server.close().then(() => process.exit(0));
  });
});

/**
 * Child-process driver for model-fetch.test.ts: downloads the model `runs` times from a server that
 * cuts the first transfer right after the headers, counting uncaught exceptions (which Jest would
 * otherwise swallow into its own report). Prints one JSON line: {runs, ok, uncaught, messages}.
 * Usage: tsx fetch-early-cut-driver.ts <model file> <sha256> [runs]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { downloadModel, type DownloadableModel } from '../../lambda/src/adapters/model-download';
import { firstRequests, startModelServer } from './fetch-model-server';

const messages: string[] = [];
process.on('uncaughtException', (e) => {
  messages.push(String(e));
});

async function main(): Promise<void> {
  const [file, sha256, runsArg] = process.argv.slice(2);
  if (!file || !sha256) throw new Error('usage: fetch-early-cut-driver.ts <model file> <sha256> [runs]');
  const bytes = await readFile(file);
  const runs = Number(runsArg ?? 10);
  let ok = 0;
  for (let i = 0; i < runs; i++) {
    const server = await startModelServer(bytes, {
      behave: firstRequests(1, { kind: 'cut', afterBytes: 1, delayMs: 0 }),
    });
    const dir = mkdtempSync(path.join(tmpdir(), 'fetch-early-cut-'));
    const spec: DownloadableModel = {
      id: 'early-cut',
      file: path.basename(file),
      sha256,
      urls: [server.url],
    };
    try {
      await downloadModel(spec, dir, { baseDelayMs: 5 });
      ok++;
    } catch (e) {
      messages.push(`download failed: ${(e as Error).message}`);
    } finally {
      await new Promise((r) => setTimeout(r, 20));
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  process.stdout.write(
    `${JSON.stringify({ runs, ok, uncaught: messages.filter((m) => !m.startsWith('download failed')).length, messages })}\n`,
  );
}

void main();

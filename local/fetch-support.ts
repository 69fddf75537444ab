import { SingleBar, Presets } from 'cli-progress';
import type { Config } from '../lambda/src/adapters/config';
import { loadManifest } from '../lambda/src/adapters/manifest-loader';
import { ModelFileStore } from '../lambda/src/adapters/model-files';
import { downloadModel, type DownloadProgress } from '../lambda/src/adapters/model-download';
import type { ModelSpec } from '../lambda/src/core/manifest';

function progressBar(label: string): DownloadProgress {
  const interactive = process.stderr.isTTY;
  const bar = new SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {value}/{total} MB`,
      stream: process.stderr,
      hideCursor: true,
      noTTYOutput: false,
    },
    Presets.shades_classic,
  );
  let started = false;
  let done = 0;
  return {
    start(total) {
      if (!interactive) {
        process.stderr.write(`${label}: downloading${total ? ` ${(total / 1e6).toFixed(1)} MB` : ''}…\n`);
        return;
      }
      bar.start(total ? Math.round(total / 1e6) : 0, 0);
      started = true;
    },
    advance(n) {
      done += n;
      if (started) bar.update(Math.round(done / 1e6));
    },
    stop() {
      if (started) bar.stop();
      started = false;
      done = 0;
    },
  };
}

export interface FetchReport {
  id: string;
  status: 'present' | 'downloaded' | 'failed';
  message?: string;
}

/**
 * Makes sure the named models are on disk: present files are checked (sha256), missing ones are
 * downloaded into the cache folder with a progress bar. Never throws: each model gets a report.
 */
export async function ensureModels(
  config: Config,
  ids: readonly string[],
  log: (line: string) => void,
  download: { attempts?: number; baseDelayMs?: number } = {},
): Promise<FetchReport[]> {
  const manifest = loadManifest(config.modelsDir, config.userManifest);
  const store = new ModelFileStore(config.modelPath, config.modelsDir, config.cacheDir);
  const reports: FetchReport[] = [];
  for (const id of ids) {
    const spec: ModelSpec | undefined = manifest.models.find((m) => m.id === id);
    if (!spec) {
      reports.push({
        id,
        status: 'failed',
        message: `unknown model id; known: ${manifest.models.map((m) => m.id).join(', ')}`,
      });
      continue;
    }
    if (store.isPresent(spec)) {
      try {
        await store.locate(spec);
        reports.push({ id, status: 'present' });
      } catch (e) {
        reports.push({ id, status: 'failed', message: (e as Error).message });
      }
      continue;
    }
    try {
      await downloadModel(spec, config.cacheDir, {
        idleTimeoutMs: config.downloadIdleTimeoutMs,
        ...download,
        progress: progressBar(id),
        log,
      });
      reports.push({ id, status: 'downloaded' });
    } catch (e) {
      reports.push({ id, status: 'failed', message: (e as Error).message });
    }
  }
  return reports;
}

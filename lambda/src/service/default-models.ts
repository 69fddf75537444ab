import type { Task } from '../core/manifest';

/**
 * - `preferred`: the configured default answers.
 * - `fallback`: it is not installed; an embedded model answers instead (`detail` says why).
 * - `downloading`: as `fallback`, while the configured default downloads in the background.
 */
export type DefaultState = 'preferred' | 'fallback' | 'downloading';

export interface DefaultStatus {
  /** The model that answers a request without a `model` parameter. */
  model: string;
  /** The configured default (DEFAULT_CLASSIFIER / DEFAULT_DETECTOR, else ResNet-50 / YOLOv4). */
  preferred: string;
  state: DefaultState;
  detail?: string;
}

const TASKS: readonly Task[] = ['classification', 'detection'];

/**
 * Which model answers each task by default. A configured default that is not installed gives way
 * to its fallback (an embedded small model) until `adopt` is called once it is installed and
 * loaded, so a fresh clone answers at once and switches to the better model without a restart.
 */
export class DefaultModels {
  private readonly status: Record<Task, DefaultStatus>;

  constructor(
    preferred: Readonly<Record<Task, string>>,
    fallbacks: Readonly<Partial<Record<Task, string>>>,
    isInstalled: (id: string) => boolean,
  ) {
    const initial = (task: Task): DefaultStatus => {
      const want = preferred[task];
      const fallback = fallbacks[task];
      if (!fallback || fallback === want || isInstalled(want) || !isInstalled(fallback)) {
        return { model: want, preferred: want, state: 'preferred' };
      }
      return {
        model: fallback,
        preferred: want,
        state: 'fallback',
        detail: `${want} is not installed (npm run models:fetch); the embedded ${fallback} answers instead`,
      };
    };
    this.status = { classification: initial('classification'), detection: initial('detection') };
  }

  current(task: Task): string {
    return this.status[task].model;
  }

  /** Tasks whose configured default is not the one answering. */
  waiting(): Task[] {
    return TASKS.filter((t) => this.status[t].state !== 'preferred');
  }

  /** Records progress or a failure of the configured default's download, the fallback still answering. */
  note(task: Task, state: Exclude<DefaultState, 'preferred'>, detail: string): void {
    const s = this.status[task];
    if (s.state !== 'preferred') this.status[task] = { ...s, state, detail };
  }

  /** The configured default is installed and loaded: it answers from now on. */
  adopt(task: Task): void {
    const { preferred } = this.status[task];
    this.status[task] = { model: preferred, preferred, state: 'preferred' };
  }

  describe(): Record<Task, DefaultStatus> {
    return { classification: { ...this.status.classification }, detection: { ...this.status.detection } };
  }
}

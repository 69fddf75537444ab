import { OverloadedError, TimeoutError } from '../../lambda/src/core/errors';
import { SerialQueue } from '../../lambda/src/core/serial-queue';

/** A job the test finishes by hand, recording when it starts. */
function gate<T>(log: string[], name: string, value: T) {
  let open!: () => void;
  let fail!: (e: Error) => void;
  const opened = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return {
    job: async () => {
      log.push(`start ${name}`);
      await opened;
      log.push(`end ${name}`);
      return value;
    },
    open,
    fail,
  };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('SerialQueue', () => {
  it('runs jobs one at a time, in submission order, never overlapping', async () => {
    const q = new SerialQueue(10, 'm');
    let active = 0;
    let maxActive = 0;
    const order: number[] = [];
    const job = (i: number) => async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      order.push(i);
      await new Promise((r) => setTimeout(r, 5 - i)); // later jobs are quicker: overlap would reorder
      active--;
      return i * 10;
    };
    const results = await Promise.all([0, 1, 2, 3, 4].map((i) => q.run(job(i))));
    expect(results).toEqual([0, 10, 20, 30, 40]);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(maxActive).toBe(1);
  });

  it('does not start the next job until the previous one has finished', async () => {
    const q = new SerialQueue(10, 'm');
    const log: string[] = [];
    const a = gate(log, 'a', 1);
    const b = gate(log, 'b', 2);
    const pa = q.run(a.job);
    const pb = q.run(b.job);
    await flush();
    expect(log).toEqual(['start a']);
    a.open();
    await expect(pa).resolves.toBe(1);
    await flush();
    expect(log).toEqual(['start a', 'end a', 'start b']);
    b.open();
    await expect(pb).resolves.toBe(2);
  });

  it('rejects with OverloadedError (code OVERLOADED, retry after 1 s) when the backlog is full', async () => {
    const q = new SerialQueue(2, 'yolov4');
    const log: string[] = [];
    const a = gate(log, 'a', 'a');
    const b = gate(log, 'b', 'b');
    const pa = q.run(a.job);
    const pb = q.run(b.job);
    expect(q.size).toBe(2);
    const third = q.run(() => Promise.resolve('c'));
    await expect(third).rejects.toBeInstanceOf(OverloadedError);
    await expect(third).rejects.toMatchObject({
      code: 'OVERLOADED',
      retryAfterSeconds: 1,
      details: { retryAfterSeconds: 1 },
    });
    await expect(third).rejects.toThrow("Too many requests queued for 'yolov4' (2)");
    expect(q.size).toBe(2); // the refused job took no slot
    a.open();
    b.open();
    await expect(Promise.all([pa, pb])).resolves.toEqual(['a', 'b']);
  });

  it('accepts jobs again once the backlog drains', async () => {
    const q = new SerialQueue(1, 'm');
    const log: string[] = [];
    const a = gate(log, 'a', 'a');
    const pa = q.run(a.job);
    await expect(q.run(() => Promise.resolve('x'))).rejects.toMatchObject({ code: 'OVERLOADED' });
    a.open();
    await pa;
    expect(q.size).toBe(0);
    await expect(q.run(() => Promise.resolve('after'))).resolves.toBe('after');
  });

  it('a failing job rejects its own caller only; the queue carries on with the next job', async () => {
    const q = new SerialQueue(5, 'm');
    const failing = q.run(() => Promise.reject(new Error('boom')));
    const throwing = q.run(() => {
      throw new Error('sync boom');
    });
    const next = q.run(() => Promise.resolve('ok'));
    await expect(failing).rejects.toThrow('boom');
    await expect(throwing).rejects.toThrow('sync boom');
    await expect(next).resolves.toBe('ok');
    expect(q.size).toBe(0);
  });

  describe('with an abort signal (the request timed out)', () => {
    it('a waiting job whose signal aborts rejects at once with the reason, leaves the backlog and never runs', async () => {
      const q = new SerialQueue(3, 'm');
      const log: string[] = [];
      const a = gate(log, 'a', 'a');
      const c = gate(log, 'c', 'c');
      const pa = q.run(a.job);
      const controller = new AbortController();
      const pb = q.run(() => {
        log.push('start b');
        return Promise.resolve('b');
      }, controller.signal);
      const pc = q.run(c.job);
      expect(q.size).toBe(3);

      const reason = new TimeoutError('The request took longer than 1 ms.');
      controller.abort(reason);
      // Rejected while 'a' still runs: the caller does not wait for the jobs ahead of it.
      await expect(pb).rejects.toBe(reason);
      expect(q.size).toBe(2);
      // Its slot is free at once: a new job fits although 'a' and 'c' are still there.
      const pd = q.run(() => Promise.resolve('d'));
      expect(q.size).toBe(3);

      a.open();
      await expect(pa).resolves.toBe('a');
      await flush();
      expect(log).toEqual(['start a', 'end a', 'start c']);
      c.open();
      await expect(Promise.all([pc, pd])).resolves.toEqual(['c', 'd']);
      expect(log).not.toContain('start b');
      expect(q.size).toBe(0);
    });

    it('a job whose signal has already aborted is refused without taking a slot and never runs', async () => {
      const q = new SerialQueue(1, 'm');
      const reason = new TimeoutError('late');
      let ran = false;
      const refused = q.run(() => {
        ran = true;
        return Promise.resolve('x');
      }, AbortSignal.abort(reason));
      await expect(refused).rejects.toBe(reason);
      expect(q.size).toBe(0);
      await expect(q.run(() => Promise.resolve('next'))).resolves.toBe('next');
      expect(ran).toBe(false);
    });

    it('a job already running when its signal aborts finishes and keeps its slot until then', async () => {
      const q = new SerialQueue(2, 'm');
      const log: string[] = [];
      const a = gate(log, 'a', 'a');
      const controller = new AbortController();
      const pa = q.run(a.job, controller.signal);
      await flush();
      expect(log).toEqual(['start a']);
      controller.abort(new TimeoutError('late'));
      await flush();
      // The model cannot be interrupted: the run still occupies the queue.
      expect(q.size).toBe(1);
      const pb = q.run(() => Promise.resolve('b'));
      a.open();
      await expect(pa).resolves.toBe('a');
      await expect(pb).resolves.toBe('b');
      expect(q.size).toBe(0);
    });

    it('a burst of waiting jobs that all time out frees the whole backlog behind the running one', async () => {
      const q = new SerialQueue(50, 'm');
      const log: string[] = [];
      const a = gate(log, 'a', 'a');
      const pa = q.run(a.job);
      const controllers = Array.from({ length: 40 }, () => new AbortController());
      let ran = 0;
      const waiting = controllers.map((c) =>
        q.run(() => {
          ran++;
          return Promise.resolve();
        }, c.signal),
      );
      expect(q.size).toBe(41);
      for (const c of controllers) c.abort(new TimeoutError('burst timed out'));
      await Promise.allSettled(waiting);
      expect(q.size).toBe(1);
      a.open();
      await pa;
      await expect(q.run(() => Promise.resolve('next'))).resolves.toBe('next');
      expect(ran).toBe(0);
    });
  });
});

import { OverloadedError } from '../../lambda/src/core/errors';
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
});

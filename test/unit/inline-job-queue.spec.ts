import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs';
import { PinoLogger } from 'nestjs-pino';
import { loadConfig } from '../../src/config/app-config';
import { InlineJobQueue } from '../../src/modules/queue/inline-job-queue';
import type { JobHandlers } from '../../src/modules/queue/jobs';

function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // a job's synchronous work (its SQLite transactions)
  }
}

describe('inline job queue', () => {
  it('lets I/O in between jobs that finish at once, instead of running them all first', async () => {
    const queue = new InlineJobQueue(
      loadConfig({ WORKER_CONCURRENCY: '4' }),
      new PinoLogger({ pinoHttp: { level: 'silent' } }),
    );
    const order: string[] = [];
    const total = 200;
    let finished = 0;
    let allDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (allDone = resolve));
    const run = async (): Promise<void> => {
      busyFor(0.2);
      order.push('job');
      finished += 1;
      if (finished === total) allDone();
    };
    const handlers: JobHandlers = { plan: run, task: run, finalize: run };
    await queue.consume(handlers, ['workflows', 'tasks']);
    for (let i = 0; i < total; i += 1) {
      await queue.enqueue('task', { workflowId: randomUUID(), taskId: randomUUID() });
    }
    readFile(__filename, () => order.push('io'));
    await done;
    await queue.stop(1000);
    expect(order.filter((o) => o === 'job')).toHaveLength(total);
    // The file read completed long before the last job: its callback ran in between.
    expect(order.indexOf('io')).toBeGreaterThan(-1);
    expect(order.indexOf('io')).toBeLessThan(total / 2);
  });
});

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobQueue } from '../../src/modules/queue/job-queue';
import type { JobHandlers, QueueKey } from '../../src/modules/queue/jobs';

/** Resolves once `check()` holds; fails after `ms`. */
async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(5);
  }
}

/**
 * A driver consuming both queues with WORKER_CONCURRENCY=2 and handlers that hold their job
 * until released: a slot lent by the tasks queue to the workflows queue makes the workflows
 * queue run 3 jobs at once and the tasks queue 1, until it is given back.
 */
export async function expectSlotLending(queue: JobQueue): Promise<void> {
  const active: Record<QueueKey, number> = { workflows: 0, tasks: 0 };
  const most: Record<QueueKey, number> = { workflows: 0, tasks: 0 };
  const held: Record<QueueKey, (() => void)[]> = { workflows: [], tasks: [] };
  const hold = (kind: QueueKey) => async (): Promise<void> => {
    active[kind] += 1;
    most[kind] = Math.max(most[kind], active[kind]);
    await new Promise<void>((resolve) => held[kind].push(resolve));
    active[kind] -= 1;
  };
  const release = (kind: QueueKey): void => {
    for (const resolve of held[kind].splice(0)) resolve();
  };
  const handlers: JobHandlers = {
    plan: hold('workflows'),
    finalize: hold('workflows'),
    task: hold('tasks'),
  };
  await queue.consume(handlers, ['workflows', 'tasks']);

  const giveBack = queue.borrowSlot('workflows', 'tasks');
  expect(giveBack).toBeDefined();
  // The tasks queue is down to one slot: it lends no more.
  expect(queue.canLendSlot('tasks')).toBe(false);
  expect(queue.borrowSlot('workflows', 'tasks')).toBeUndefined();
  // A job running its own queue's work needs no slot.
  expect(queue.borrowSlot('tasks', 'tasks')).toBeDefined();

  for (let i = 0; i < 4; i += 1) {
    await queue.enqueue('plan', { workflowId: randomUUID() });
    await queue.enqueue('task', { workflowId: randomUUID(), taskId: randomUUID() });
  }
  await until(() => active.workflows === 3 && active.tasks === 1, '3 plan jobs and 1 task job run');
  await sleep(300);
  expect(most).toEqual({ workflows: 3, tasks: 1 });

  // Given back: the tasks queue runs two at once again (from its next job on), the workflows
  // queue two.
  giveBack?.();
  release('tasks');
  await until(() => active.tasks === 2, 'two task jobs run again');
  release('workflows');
  await until(() => active.workflows === 1, 'the last plan job runs');
  release('tasks');
  await until(() => active.tasks === 1, 'the last task job runs');
  expect(most).toEqual({ workflows: 3, tasks: 2 });
  release('tasks');
  release('workflows');
  await until(() => active.workflows === 0 && active.tasks === 0, 'every job finished');
}

import { freePort as closedPort } from '../helpers/ports';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestApp, type TestApp } from '../helpers/app';
import { testConfig } from '../helpers/config';
import { api, submit, waitForStatus } from '../helpers/http';
import { startWorker } from '../../src/app/worker-main';
import { ConfigError } from '../../src/config/app-config';
import { bullmqQueues } from '../../src/modules/queue/queue-dashboard';
import { JobQueue } from '../../src/modules/queue/job-queue';

function isJobOf(data: unknown, workflowId: string): boolean {
  return (
    typeof data === 'object' && data !== null && Reflect.get(data, 'workflowId') === workflowId
  );
}

// Uses the machine's real Redis (127.0.0.1:6379); every run has its own key prefix.
const REDIS_URL = 'redis://127.0.0.1:6379';

describe('BullMQ driver on the real Redis', () => {
  let t: TestApp;
  const prefix = `broski-test-${randomUUID()}`;

  beforeAll(async () => {
    t = await startTestApp(
      testConfig({
        REDIS_URL,
        QUEUE_DRIVER: 'bullmq',
        QUEUE_PREFIX: prefix,
        RECONCILE_INTERVAL_MS: '0',
        WORKER_CONCURRENCY: '4',
      }),
    );
  });

  afterAll(async () => {
    if (t !== undefined) {
      const queues = bullmqQueues(t.app);
      for (const queue of queues) await queue.obliterate({ force: true });
      await t.close();
    }
  });

  it('runs a workflow through Redis with the API consuming its own queues', async () => {
    expect(t.app.get(JobQueue).driver).toBe('bullmq');
    const workflow = await submit(t.app, {
      request: 'Research, design and build a landing page for a bakery',
    });
    const done = await waitForStatus(t.app, workflow.id, ['completed', 'failed'], 20_000);
    expect(done.status).toBe('completed');
    expect(done.tasks.every((task) => task.status === 'completed' && task.attempts === 1)).toBe(
      true,
    );
  });

  it('reports Redis in readiness', async () => {
    const response = await api(t.app).get('/health/ready').expect(200);
    expect(response.body.details.redis.status).toBe('up');
  });

  it('keeps one job per deterministic id and knows which jobs are live', async () => {
    const queue = t.app.get(JobQueue);
    const workflowId = randomUUID();
    // No handler can find this workflow: the job runs, does nothing and completes.
    await queue.enqueue('finalize', { workflowId }, { delayMs: 60_000 });
    await queue.enqueue('finalize', { workflowId }, { delayMs: 60_000 });
    expect(await queue.isLive('finalize', { workflowId })).toBe(true);
    const [workflows] = bullmqQueues(t.app);
    const delayed = await workflows!.getDelayed();
    expect(delayed.filter((job) => isJobOf(job.data, workflowId))).toHaveLength(1);
    expect(await queue.isLive('plan', { workflowId })).toBe(false);
  });

  it('queues a job again once the previous one with its id has finished', async () => {
    const queue = t.app.get(JobQueue);
    const workflowId = randomUUID();
    const [workflows] = bullmqQueues(t.app);
    const finished = async () =>
      (await workflows!.getCompleted()).filter((job) => isJobOf(job.data, workflowId)).length;
    // No handler can find this workflow: each job runs, does nothing and completes.
    await queue.enqueue('finalize', { workflowId });
    for (let i = 0; i < 200 && (await finished()) < 1; i += 1) await sleep(10);
    expect(await finished()).toBe(1);
    expect(await queue.isLive('finalize', { workflowId })).toBe(false);
    await queue.enqueue('finalize', { workflowId });
    for (let i = 0; i < 200 && (await finished()) < 2; i += 1) await sleep(10);
    expect(await finished()).toBe(2);
  });

  it('serves the queue dashboard', async () => {
    const response = await api(t.app).get('/admin/queues/api/queues').expect(200);
    const names = (response.body.queues as Array<{ name: string }>).map((q) => q.name).sort();
    expect(names).toEqual(['broski-tasks', 'broski-workflows']);
  });
});

describe('BullMQ driver with Redis unreachable', () => {
  let t: TestApp;

  beforeAll(async () => {
    const port = await closedPort();
    t = await startTestApp(
      testConfig({
        REDIS_URL: `redis://127.0.0.1:${port}`,
        QUEUE_DRIVER: 'bullmq',
        RUN_WORKERS: 'false',
        RECONCILE_INTERVAL_MS: '0',
        // The counters live in Redis: without it requests are served uncounted.
        RATE_LIMIT_PER_MINUTE: '2',
      }),
    );
  });

  afterAll(async () => {
    await t?.close();
  });

  it('answers readiness 503 while liveness stays 200', async () => {
    await api(t.app).get('/health/live').expect(200);
    const ready = await api(t.app).get('/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.error.redis.status).toBe('down');
  });

  it('serves requests without counting them for the rate limit rather than refusing them', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await api(t.app).get('/api/v1/agents')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
  });

  it('accepts a submission quickly and keeps it for the reconciler', async () => {
    const started = Date.now();
    const response = await api(t.app).post('/api/v1/workflows').send({ request: 'Write a poem' });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(response.status).toBe(202);
    const stored = await api(t.app).get(`/api/v1/workflows/${response.body.id}`).expect(200);
    expect(stored.body.status).toBe('pending');
  });

  it('stores simultaneous submissions with one Idempotency-Key once (here submissions go through the group commit)', async () => {
    const key = `together-${Date.now()}`;
    const send = (request: string) =>
      api(t.app).post('/api/v1/workflows').set('idempotency-key', key).send({ request });
    const [a, b] = await Promise.all([send('Plan a picnic'), send('Plan a picnic')]);
    expect([a.status, b.status].sort()).toEqual([200, 202]);
    expect(a.body.id).toBe(b.body.id);
    const other = await send('Plan a party');
    expect(other.status).toBe(422);
    expect(other.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(other.body.code).toBe('idempotency_key_reused');
    const stored = await api(t.app).get(`/api/v1/workflows/${a.body.id}`).expect(200);
    expect(stored.body.request).toBe('Plan a picnic');
  });
});

describe('worker process', () => {
  it('refuses to start without Redis, naming REDIS_URL', async () => {
    const config = testConfig();
    await expect(startWorker(config)).rejects.toThrow(ConfigError);
    await expect(startWorker(config)).rejects.toThrow(/REDIS_URL/);
  });
});

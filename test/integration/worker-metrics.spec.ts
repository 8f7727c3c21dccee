import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { INestApplicationContext } from '@nestjs/common';
import { startTestApp, type TestApp } from '../helpers/app';
import { tempDir, testConfig } from '../helpers/config';
import { submit, waitForStatus } from '../helpers/http';
import { freePort } from '../helpers/ports';
import { DIST_WORKER, ensureBuilt, raceTimeout, spawnNode } from '../helpers/processes';
import { unhandledCounts } from '../../src/app/process-guards';
import { startWorker } from '../../src/app/worker-main';
import { loadConfig } from '../../src/config/app-config';
import { bullmqQueues } from '../../src/modules/queue/queue-dashboard';

// Uses the machine's real Redis (127.0.0.1:6379); every run has its own key prefix.
const REDIS_URL = 'redis://127.0.0.1:6379';

/** The value of one sample line of a Prometheus text exposition (undefined when absent). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('a worker process with WORKER_METRICS_PORT', () => {
  const prefix = `broski-test-${randomUUID()}`;
  let api: TestApp;
  let worker: INestApplicationContext | undefined;
  let base = '';
  let port = 0;
  let workerEnv: Record<string, string> = {};

  beforeAll(async () => {
    const shared = { REDIS_URL, QUEUE_DRIVER: 'bullmq', QUEUE_PREFIX: prefix };
    const apiConfig = testConfig({ ...shared, RUN_WORKERS: 'false' });
    api = await startTestApp(apiConfig);
    port = await freePort();
    workerEnv = {
      ...shared,
      DATABASE_PATH: api.config.database.path,
      BACKUP_DIR: path.join(apiConfig.dir, 'backups'),
      LOG_LEVEL: 'silent',
      RECONCILE_INTERVAL_MS: '0',
      WORKER_METRICS_PORT: String(port),
    };
    worker = await startWorker(loadConfig(workerEnv));
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await worker?.close();
    for (const queue of bullmqQueues(api.app)) await queue.obliterate({ force: true });
    await api.close();
  });

  it('counts and times the jobs it ran in its /metrics, with the process figures', async () => {
    const workflow = await submit(api.app, {
      request: 'Research, design and build a landing page for a bakery',
    });
    const done = await waitForStatus(api.app, workflow.id, ['completed', 'failed'], 20_000);
    expect(done.status).toBe('completed');

    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(sample(text, 'broski_jobs_total{job="plan",outcome="completed"}')).toBe(1);
    // One job per step at most (a job may carry the steps it made ready), at least one.
    const tasks = sample(text, 'broski_jobs_total{job="task",outcome="completed"}') ?? 0;
    expect(tasks).toBeGreaterThanOrEqual(1);
    expect(tasks).toBeLessThanOrEqual(done.tasks.length);
    expect(sample(text, 'broski_job_duration_seconds_count{job="plan"}')).toBe(1);
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    // Nothing failed, and every series exists from the start.
    expect(sample(text, 'broski_jobs_total{job="task",outcome="failed"}')).toBe(0);
    expect(sample(text, 'broski_jobs_total{job="finalize",outcome="retry_later"}')).toBe(0);
    // Only this process's own figures: the database and queue families are the API's.
    expect(text).not.toContain('broski_workflows_total');
    expect(text).not.toContain('broski_queue_jobs');
  });

  it('reports the unhandled errors its process guards counted', async () => {
    const before = unhandledCounts.rejection;
    unhandledCounts.rejection += 2;
    try {
      const text = await (await fetch(`${base}/metrics`)).text();
      expect(sample(text, 'broski_unhandled_errors_total{kind="rejection"}')).toBe(before + 2);
    } finally {
      unhandledCounts.rejection -= 2;
    }
  });

  it('answers liveness and readiness like the API', async () => {
    const live = await fetch(`${base}/health/live`, { headers: { 'x-request-id': 'probe-1' } });
    expect(live.status).toBe(200);
    expect(live.headers.get('x-request-id')).toBe('probe-1');
    expect((await fetch(`${base}/health/live`, { method: 'HEAD' })).status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(200);
    const body: unknown = await ready.json();
    expect(body).toMatchObject({
      status: 'ok',
      details: { database: { status: 'up' }, redis: { status: 'up' } },
    });
  });

  it('answers anything else with a problem', async () => {
    const missing = await fetch(`${base}/api/v1/workflows`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
    expect(await missing.json()).toMatchObject({ status: 404, code: 'not_found' });
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect(post.headers.get('content-type')).toBe('application/problem+json');
    expect(await post.json()).toMatchObject({ status: 405 });
  });

  it('refuses to start a second worker on the same port, naming WORKER_METRICS_PORT', async () => {
    ensureBuilt();
    const second = spawnNode('second-worker', DIST_WORKER, {
      env: workerEnv,
      maxLifetimeMs: 30_000,
    });
    const exit = await raceTimeout(second.exited, 20_000);
    if (exit === undefined) {
      await second.kill();
      throw new Error(`the second worker did not exit within 20 s\n${second.tail()}`);
    }
    expect(exit.code).toBe(2);
    expect(second.stderr()).toMatch(/cannot start the worker: .*WORKER_METRICS_PORT.*EADDRINUSE/);
    // It stopped before taking any job: the first worker still answers.
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
  });

  it('frees the port when the worker closes', async () => {
    await worker?.close();
    worker = undefined;
    await expect(fetch(`${base}/health/live`)).rejects.toThrow();
  });
});

describe('a worker process without WORKER_METRICS_PORT', () => {
  it('loads no metrics code (prom-client) and listens on no port', async () => {
    ensureBuilt();
    const dir = tempDir();
    try {
      const probe = path.join(dir, 'probe.js');
      fs.writeFileSync(
        probe,
        `process.on('SIGUSR2', () => {
           const files = Object.keys(require.cache).filter((f) => /[\\\\/]prom-client[\\\\/]/.test(f));
           process.stdout.write(JSON.stringify({ promFiles: files.length }) + '\\n');
         });
         require(${JSON.stringify(DIST_WORKER)});`,
      );
      const worker = spawnNode('plain-worker', probe, {
        env: {
          REDIS_URL,
          QUEUE_PREFIX: `broski-test-${randomUUID()}`,
          DATABASE_PATH: path.join(dir, 'broski.db'),
          LOG_LEVEL: 'info',
        },
        maxLifetimeMs: 30_000,
      });
      try {
        await worker.waitForLog((l) => l.msg === 'processing jobs', 20_000, 'processing jobs');
        worker.proc.kill('SIGUSR2');
        const line = await worker.waitForLog(
          (l) => typeof l.promFiles === 'number',
          5_000,
          'the probe line',
        );
        expect(line.promFiles).toBe(0);
        expect(worker.logs().some((l) => l.msg?.startsWith('serving /metrics') === true)).toBe(
          false,
        );
      } finally {
        await worker.stop(10_000);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

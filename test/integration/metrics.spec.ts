import { setTimeout as sleep } from 'node:timers/promises';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { WorkflowDetail } from '../../src/modules/workflows/workflows.contract';
import { ApiKeysService } from '../../src/modules/access/api-keys.service';
import { QUEUE_NAMES } from '../../src/modules/queue/jobs';
import {
  QUEUE_COUNTS_TIMEOUT_MS,
  TASK_DURATION_BUCKETS,
} from '../../src/modules/metrics/metrics.service';
import { startTestApp, type TestApp } from '../helpers/app';
import { testConfig } from '../helpers/config';
import { api, submit, waitForStatus } from '../helpers/http';
import {
  describeWithRedisServer,
  findRedisServer,
  startPrivateRedis,
  type PrivateRedis,
} from '../helpers/redis-server';

/**
 * Issue 6, item 4: GET /metrics exposes the HTTP, work, queue, process and unhandled-error
 * families with the real numbers of a workflow that ran in the application.
 */

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (0.0.4) into samples; throws on a malformed line. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[label[1] ?? ''] = label[2] ?? '';
    }
    const raw = match[3] ?? '';
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    samples.push({ name: match[1] ?? '', labels, value });
  }
  return samples;
}

function matching(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/** The value of the one sample with this name and these labels (fails when not exactly one). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = matching(samples, name, labels);
  if (found.length !== 1) {
    throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  }
  return found[0]?.value ?? NaN;
}

function seconds(from: string | null, to: string | null): number {
  if (from === null || to === null) throw new Error('task without start or finish time');
  return (Date.parse(to) - Date.parse(from)) / 1000;
}

async function scrape(app: NestFastifyApplication): Promise<{ text: string; samples: Sample[] }> {
  const response = await api(app).get('/metrics').expect(200);
  expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return { text: response.text, samples: parseExposition(response.text) };
}

describe('GET /metrics', () => {
  let t: TestApp;
  let workflow: WorkflowDetail;

  beforeAll(async () => {
    t = await startTestApp(testConfig({ RATE_LIMIT_PER_MINUTE: '1000000' }));
    const submitted = await submit(t.app, {
      request: 'Research, design, build and write the copy for a landing page for a bakery',
    });
    workflow = await waitForStatus(t.app, submitted.id, ['completed', 'failed'], 20_000);
    // A route that does not exist, with an id in the path that must not become a label.
    await api(t.app).get(`/api/v1/nothing-here/${workflow.id}`).expect(404);
  });

  afterAll(async () => {
    await t?.close();
  });

  it('counts the workflow, its tasks, durations, model calls and tokens from the database', async () => {
    expect(workflow.status).toBe('completed');
    expect(workflow.tasks.length).toBeGreaterThan(1);
    const { samples } = await scrape(t.app);

    expect(valueOf(samples, 'broski_workflows_total', { status: 'completed' })).toBe(1);
    for (const status of ['pending', 'planning', 'running', 'failed', 'cancelled']) {
      expect(valueOf(samples, 'broski_workflows_total', { status })).toBe(0);
    }

    const perAgent = new Map<string, WorkflowDetail['tasks']>();
    for (const task of workflow.tasks) {
      perAgent.set(task.agentType, [...(perAgent.get(task.agentType) ?? []), task]);
    }
    const taskSamples = matching(samples, 'broski_tasks_total');
    expect(taskSamples.map((s) => s.labels)).toEqual(
      expect.arrayContaining(
        [...perAgent.keys()].map((agentType) => ({ agent_type: agentType, status: 'completed' })),
      ),
    );
    expect(taskSamples.reduce((sum, s) => sum + s.value, 0)).toBe(workflow.tasks.length);

    for (const [agentType, tasks] of perAgent) {
      const labels = { agent_type: agentType };
      expect(valueOf(samples, 'broski_tasks_total', { ...labels, status: 'completed' })).toBe(
        tasks.length,
      );
      const count = valueOf(samples, 'broski_task_duration_seconds_count', labels);
      expect(count).toBe(tasks.length);
      const buckets = matching(samples, 'broski_task_duration_seconds_bucket', labels);
      expect(buckets.map((b) => b.labels.le)).toEqual([
        ...TASK_DURATION_BUCKETS.map(String),
        '+Inf',
      ]);
      const values = buckets.map((b) => b.value);
      expect(values).toEqual([...values].sort((a, b) => a - b));
      expect(values[values.length - 1]).toBe(count);
      const expectedSum = tasks.reduce(
        (sum, task) => sum + seconds(task.startedAt, task.finishedAt),
        0,
      );
      expect(valueOf(samples, 'broski_task_duration_seconds_sum', labels)).toBeCloseTo(
        expectedSum,
        2,
      );
    }

    const model = { provider: 'offline', model: 'offline' };
    expect(valueOf(samples, 'broski_llm_calls_total', { ...model, outcome: 'ok' })).toBe(
      workflow.tasks.length + 3,
    );
    expect(valueOf(samples, 'broski_llm_calls_total', { ...model, outcome: 'ok' })).toBe(
      workflow.usage.llmCalls,
    );
    expect(valueOf(samples, 'broski_llm_calls_total', { ...model, outcome: 'error' })).toBe(0);
    expect(valueOf(samples, 'broski_llm_tokens_total', { ...model, direction: 'input' })).toBe(
      workflow.usage.inputTokens,
    );
    expect(valueOf(samples, 'broski_llm_tokens_total', { ...model, direction: 'output' })).toBe(
      workflow.usage.outputTokens,
    );
    expect(workflow.usage.inputTokens).toBeGreaterThan(0);
  });

  it('labels HTTP requests with route templates, never raw paths', async () => {
    await api(t.app).get(`/api/v1/workflows/${workflow.id}`).expect(200);
    const { text, samples } = await scrape(t.app);
    expect(
      valueOf(samples, 'http_request_duration_seconds_count', {
        method: 'GET',
        route: '/api/v1/workflows/:id',
        status_code: '200',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      valueOf(samples, 'http_request_duration_seconds_count', {
        method: 'POST',
        route: '/api/v1/workflows',
        status_code: '202',
      }),
    ).toBe(1);
    expect(
      valueOf(samples, 'http_request_duration_seconds_count', {
        method: 'GET',
        route: 'unmatched',
        status_code: '404',
      }),
    ).toBe(1);
    // No id of a workflow or task anywhere: not in a route label, not in any other.
    for (const id of [workflow.id, ...workflow.tasks.map((task) => task.id)]) {
      expect(text).not.toContain(id);
    }
    const routes = new Set(
      matching(samples, 'http_request_duration_seconds_count').map((s) => s.labels.route),
    );
    for (const route of routes) expect(route).toMatch(/^(unmatched|\/[\w/:.-]*\*?)$/);
  });

  it('has the process defaults and the unhandled-error counter', async () => {
    const { samples } = await scrape(t.app);
    expect(matching(samples, 'process_cpu_seconds_total')).toHaveLength(1);
    expect(matching(samples, 'nodejs_heap_size_used_bytes')).toHaveLength(1);
    expect(valueOf(samples, 'broski_unhandled_errors_total', { kind: 'rejection' })).toBe(0);
    expect(valueOf(samples, 'broski_unhandled_errors_total', { kind: 'exception' })).toBe(0);
    // With the inline driver there is no queue to report.
    expect(matching(samples, 'broski_queue_jobs')).toHaveLength(0);
  });

  it('declares the _total families as counters and the durations as histograms', async () => {
    const { text } = await scrape(t.app);
    for (const name of [
      'broski_workflows_total',
      'broski_tasks_total',
      'broski_llm_calls_total',
      'broski_llm_tokens_total',
      'broski_unhandled_errors_total',
    ]) {
      expect(text).toContain(`# TYPE ${name} counter`);
    }
    expect(text).toContain('# TYPE broski_task_duration_seconds histogram');
    expect(text).toContain('# TYPE http_request_duration_seconds histogram');
  });

  it('is version-neutral, open and absent from the OpenAPI document', async () => {
    await api(t.app).get('/api/v1/metrics').expect(404);
    const doc = await api(t.app).get('/docs/openapi.json').expect(200);
    expect(Object.keys(doc.body.paths as Record<string, unknown>)).not.toContain('/metrics');
  });

  it('keeps a registry per application: a second app in the same process has its own numbers', async () => {
    const other = await startTestApp(testConfig());
    try {
      const { samples } = await scrape(other.app);
      expect(valueOf(samples, 'broski_workflows_total', { status: 'completed' })).toBe(0);
      expect(matching(samples, 'process_cpu_seconds_total')).toHaveLength(1);
      expect(
        matching(samples, 'http_request_duration_seconds_count', {
          route: '/api/v1/workflows/:id',
        }),
      ).toHaveLength(0);
    } finally {
      await other.close();
    }
    // The first application's metrics still work after the second one closed.
    const { samples } = await scrape(t.app);
    expect(valueOf(samples, 'broski_workflows_total', { status: 'completed' })).toBe(1);
  });

  it('counts what another process wrote to the shared database', async () => {
    // A second application on the SAME database file stands in for a separate worker process.
    const worker = await startTestApp({ ...t.config, dir: undefined });
    try {
      const submitted = await submit(worker.app, { request: 'Write a short poem about bread' });
      const done = await waitForStatus(worker.app, submitted.id, ['completed', 'failed'], 20_000);
      expect(done.status).toBe('completed');
    } finally {
      await worker.close();
    }
    const { samples } = await scrape(t.app);
    expect(valueOf(samples, 'broski_workflows_total', { status: 'completed' })).toBe(2);
  });
});

describe('GET /metrics once API keys exist', () => {
  it('stays open while /api/v1 needs a key', async () => {
    const t = await startTestApp(testConfig());
    try {
      t.app.get(ApiKeysService).create('metrics test');
      // A new key takes effect within a second or two.
      const deadline = Date.now() + 5000;
      while ((await api(t.app).get('/api/v1/agents')).status !== 401) {
        if (Date.now() > deadline) throw new Error('the key never took effect');
        await sleep(50);
      }
      const { samples } = await scrape(t.app);
      expect(matching(samples, 'process_cpu_seconds_total')).toHaveLength(1);
      expect(
        valueOf(samples, 'http_request_duration_seconds_count', {
          method: 'GET',
          route: '/api/v1/agents',
          status_code: '401',
        }),
      ).toBeGreaterThanOrEqual(1);
    } finally {
      await t.close();
    }
  });
});

const REDIS_SERVER = findRedisServer();
const describeWithRedis = describeWithRedisServer(
  'the BullMQ part of test/integration/metrics.spec.ts',
);

describeWithRedis('GET /metrics with BullMQ', () => {
  let redis: PrivateRedis;
  let t: TestApp;

  beforeAll(async () => {
    if (REDIS_SERVER === undefined) throw new Error('redis-server is not installed but CI is set');
    redis = await startPrivateRedis(REDIS_SERVER);
    t = await startTestApp(
      testConfig({
        REDIS_URL: redis.url,
        QUEUE_DRIVER: 'bullmq',
        RATE_LIMIT_PER_MINUTE: '1000000',
        // Every step a job of its own, so that the job counts follow from the plan.
        JOB_CHAIN_STEPS: '0',
      }),
    );
  });

  afterAll(async () => {
    await t?.close();
    await redis?.dispose();
  });

  it('reports job counts per queue and state', async () => {
    const submitted = await submit(t.app, { request: 'Write a short poem about bread' });
    const done = await waitForStatus(t.app, submitted.id, ['completed', 'failed'], 20_000);
    expect(done.status).toBe('completed');
    // BullMQ marks a job completed just after its handler returned: poll briefly.
    let samples: Sample[] = [];
    for (let i = 0; i < 40; i += 1) {
      samples = (await scrape(t.app)).samples;
      const finished = matching(samples, 'broski_queue_jobs', { state: 'completed' });
      if (finished.reduce((sum, s) => sum + s.value, 0) === done.tasks.length + 2) break;
      await sleep(50);
    }
    for (const queue of Object.values(QUEUE_NAMES)) {
      for (const state of ['waiting', 'active', 'delayed', 'failed', 'completed']) {
        expect(matching(samples, 'broski_queue_jobs', { queue, state })).toHaveLength(1);
      }
    }
    // plan + finalize on the workflows queue, one job per step on the tasks queue.
    expect(
      valueOf(samples, 'broski_queue_jobs', { queue: QUEUE_NAMES.workflows, state: 'completed' }),
    ).toBe(2);
    expect(
      valueOf(samples, 'broski_queue_jobs', { queue: QUEUE_NAMES.tasks, state: 'completed' }),
    ).toBe(done.tasks.length);
    expect(valueOf(samples, 'broski_workflows_total', { status: 'completed' })).toBe(1);
  });

  it('with JOB_CHAIN_STEPS at its default, a job runs the steps it makes ready: fewer jobs', async () => {
    const chained = await startTestApp(
      testConfig({
        REDIS_URL: redis.url,
        QUEUE_DRIVER: 'bullmq',
        QUEUE_PREFIX: 'chained',
        RATE_LIMIT_PER_MINUTE: '1000000',
      }),
    );
    try {
      expect(chained.config.queue.chainSteps).toBe(12);
      const submitted = await submit(chained.app, { request: 'Write a short poem about bread' });
      const done = await waitForStatus(chained.app, submitted.id, ['completed', 'failed'], 20_000);
      expect(done.status).toBe('completed');
      expect(done.tasks.every((task) => task.status === 'completed')).toBe(true);
      let jobs = 0;
      for (let i = 0; i < 40; i += 1) {
        const { samples } = await scrape(chained.app);
        const now = matching(samples, 'broski_queue_jobs', { state: 'completed' }).reduce(
          (sum, x) => sum + x.value,
          0,
        );
        if (now > 0 && now === jobs) break;
        jobs = now;
        await sleep(50);
      }
      // Without chains: one plan, one finalize and one job per step (the test above).
      expect(jobs).toBeGreaterThan(0);
      expect(jobs).toBeLessThan(done.tasks.length + 2);
    } finally {
      await chained.close();
    }
  });

  it('answers within the bound, without queue samples, while Redis does not answer', async () => {
    // Redis holds every client's commands for 3 s: a scrape must not wait for it.
    expect(await redis.command('CLIENT', 'PAUSE', '3000', 'ALL')).toBe('+OK');
    const pausedUntil = Date.now() + 3000;
    try {
      const started = Date.now();
      const { samples } = await scrape(t.app);
      expect(Date.now() - started).toBeLessThan(QUEUE_COUNTS_TIMEOUT_MS + 1500);
      expect(matching(samples, 'broski_queue_jobs')).toHaveLength(0);
      expect(valueOf(samples, 'broski_workflows_total', { status: 'completed' })).toBe(1);
    } finally {
      await sleep(Math.max(0, pausedUntil - Date.now() + 100));
    }
    const { samples } = await scrape(t.app);
    expect(matching(samples, 'broski_queue_jobs').length).toBeGreaterThan(0);
  });
});

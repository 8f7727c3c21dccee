import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import {
  eventSchema,
  workflowDetailSchema,
  type WorkflowDetail,
  type WorkflowEvent,
} from '../../src/modules/workflows/workflows.contract';
import { QUEUE_NAMES } from '../../src/modules/queue/jobs';
import { tempDir } from '../helpers/config';
import {
  DIST_MAIN,
  DIST_WORKER,
  ensureBuilt,
  errorLines,
  freePort,
  ProcessGroup,
  raceTimeout,
  spawnNode,
  waitForHttpStatus,
  waitForReady,
  type LogLine,
  type ManagedProcess,
} from '../helpers/processes';
import {
  describeWithRedisServer,
  findRedisServer,
  redisServerVersion,
  startPrivateRedis,
  type PrivateRedis,
} from '../helpers/redis-server';

/**
 * Issue 4, item 8: the API (RUN_WORKERS=false) and two `dist/worker.js` processes on a PRIVATE
 * redis-server and one shared SQLite file. A worker is SIGKILLed mid-step, Redis is FLUSHALLed
 * mid-run, Redis is stopped and started again: every workflow completes, every step's
 * `task.completed` event appears exactly once, no process is restarted, nothing logs an
 * unhandled error.
 */

const REDIS_SERVER = findRedisServer();
const describeWithRedis = describeWithRedisServer('test/e2e/bullmq-multiprocess.spec.ts');

const OFFLINE_LATENCY_MS = 400;
const COMPLETION_BOUND_MS = 60_000;
/** Produces research → (design ‖ write) → build → review: parallel steps, so jobs wait in Redis. */
const requestText = (label: string, n: number) =>
  `Research, design, build and write the copy for a landing page about ${label} number ${n}, then review it`;

const QUEUE_PREFIX = 'broski-e2e';
/** Counts the jobs waiting in the given lists and, only when there are some, runs FLUSHALL. */
const FLUSH_IF_JOBS_WAIT = `local n = 0
for _, key in ipairs(KEYS) do n = n + redis.call('LLEN', key) end
if n > 0 then redis.call('FLUSHALL') end
return n`;

const eventPage = z.object({ items: z.array(eventSchema), nextCursor: z.string().nullable() });

describeWithRedis('BullMQ: API and two workers as separate processes on a private Redis', () => {
  const group = new ProcessGroup();
  const timings: Record<string, number> = {};
  const notes: string[] = [];
  let dir = '';
  let redis: PrivateRedis | undefined;
  let api: ManagedProcess;
  let baseUrl = '';
  let workers: ManagedProcess[] = [];
  let env: Record<string, string> = {};

  // ------------------------------------------------------------------ helpers

  const redisOrFail = (): PrivateRedis => {
    if (redis === undefined) throw new Error('the private redis-server did not start');
    return redis;
  };

  async function getJson(urlPath: string): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${baseUrl}${urlPath}`, { signal: AbortSignal.timeout(5000) });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: response.status, body };
  }

  async function submit(request: string): Promise<string> {
    const response = await fetch(`${baseUrl}/api/v1/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ request }),
      signal: AbortSignal.timeout(5000),
    });
    const text = await response.text();
    if (response.status !== 202) throw new Error(`submit answered ${response.status}: ${text}`);
    return workflowDetailSchema.parse(JSON.parse(text)).id;
  }

  async function workflow(id: string): Promise<WorkflowDetail> {
    const { status, body } = await getJson(`/api/v1/workflows/${id}`);
    if (status !== 200) throw new Error(`GET workflow ${id} answered ${status}`);
    return workflowDetailSchema.parse(body);
  }

  async function events(id: string): Promise<WorkflowEvent[]> {
    const { status, body } = await getJson(`/api/v1/workflows/${id}/events?limit=1000`);
    if (status !== 200) throw new Error(`GET events of ${id} answered ${status}`);
    return eventPage.parse(body).items;
  }

  /** Where each unfinished workflow stands, and the last lines of every process. */
  async function diagnostics(ids: readonly string[]): Promise<string> {
    const parts: string[] = [];
    for (const id of ids) {
      try {
        const wf = await workflow(id);
        if (wf.status === 'completed') continue;
        const tasks = wf.tasks.map((t) => `${t.key}:${t.status}(a${t.attempts})`).join(' ');
        const last = (await events(id))
          .slice(-6)
          .map((e) => e.type)
          .join(', ');
        parts.push(
          `  ${id} ${wf.status}${wf.error === null ? '' : ` error=${JSON.stringify(wf.error)}`} tasks=[${tasks}] last events=[${last}]`,
        );
      } catch (error) {
        parts.push(`  ${id}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    let keys = '';
    try {
      keys = `redis DBSIZE ${await redisOrFail().command('DBSIZE')}`;
    } catch (error) {
      keys = `redis: ${error instanceof Error ? error.message : String(error)}`;
    }
    return `unfinished workflows:\n${parts.join('\n') || '  (none)'}\n${keys}\n${group.tails(12)}`;
  }

  /** Waits until every workflow is completed; fails at once when one fails or is cancelled. */
  async function waitAllCompleted(ids: readonly string[], ms = COMPLETION_BOUND_MS) {
    const deadline = Date.now() + ms;
    for (;;) {
      const all = await Promise.all(ids.map((id) => workflow(id)));
      const broken = all.filter((w) => w.status === 'failed' || w.status === 'cancelled');
      if (broken.length > 0) {
        throw new Error(
          `${broken.length} workflow(s) ended ${broken.map((w) => w.status).join(', ')}\n${await diagnostics(ids)}`,
        );
      }
      if (all.every((w) => w.status === 'completed')) return all;
      if (Date.now() > deadline) {
        throw new Error(`not every workflow completed within ${ms} ms\n${await diagnostics(ids)}`);
      }
      await sleep(250);
    }
  }

  /** Every task has exactly one `task.completed` event, every workflow one `workflow.completed`. */
  async function expectEachStepCompletedOnce(done: readonly WorkflowDetail[]) {
    const problems: string[] = [];
    const startsPerTask = new Map<string, number>();
    for (const wf of done) {
      const list = await events(wf.id);
      if (wf.tasks.length === 0) problems.push(`${wf.id} has no tasks`);
      const taskIds = new Set(wf.tasks.map((t) => t.id));
      const completions = new Map<string, number>();
      for (const event of list) {
        if (event.type === 'task.started' && event.taskId !== null) {
          startsPerTask.set(event.taskId, (startsPerTask.get(event.taskId) ?? 0) + 1);
        }
        if (event.type !== 'task.completed') continue;
        if (event.taskId === null || !taskIds.has(event.taskId)) {
          problems.push(`${wf.id}: task.completed for an unknown task ${String(event.taskId)}`);
          continue;
        }
        completions.set(event.taskId, (completions.get(event.taskId) ?? 0) + 1);
      }
      for (const task of wf.tasks) {
        const count = completions.get(task.id) ?? 0;
        if (count !== 1 || task.status !== 'completed') {
          problems.push(
            `${wf.id} ${task.key}: ${count} task.completed events, status ${task.status}`,
          );
        }
      }
      const finished = list.filter((e) => e.type === 'workflow.completed').length;
      if (finished !== 1) problems.push(`${wf.id}: ${finished} workflow.completed events`);
    }
    if (problems.length > 0) throw new Error(`exactly-once violated:\n  ${problems.join('\n  ')}`);
    return startsPerTask;
  }

  /** How many tasks are `running` (claimed by a worker, model call in flight) right now. */
  async function runningTasks(ids: readonly string[]): Promise<number> {
    const all = await Promise.all(ids.map((id) => workflow(id)));
    return all.reduce((n, w) => n + w.tasks.filter((t) => t.status === 'running').length, 0);
  }

  async function waitUntil(
    what: string,
    ms: number,
    check: () => Promise<boolean>,
    ids: readonly string[] = [],
  ): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) {
        throw new Error(`${what} did not happen within ${ms} ms\n${await diagnostics(ids)}`);
      }
      await sleep(50);
    }
  }

  let workerCount = 0;
  async function startWorker(): Promise<ManagedProcess> {
    workerCount += 1;
    const worker = group.spawn(`worker-${workerCount}`, DIST_WORKER, { env });
    await worker.waitForLog((l) => l.msg === 'processing jobs', 20_000, '"processing jobs"');
    return worker;
  }

  // ------------------------------------------------------------------ lifecycle

  beforeAll(async () => {
    if (REDIS_SERVER === undefined) {
      throw new Error(
        "redis-server is not installed but CI is set: these multi-process tests need the machine's real Redis (apt-get install redis-server)",
      );
    }
    ensureBuilt();
    const started = Date.now();
    dir = tempDir('broski-bullmq-e2e-');
    redis = await startPrivateRedis(REDIS_SERVER);
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    env = {
      NODE_ENV: 'production',
      DATABASE_PATH: path.join(dir, 'broski.db'),
      BACKUP_DIR: path.join(dir, 'backups'),
      BACKUP_ON_SHUTDOWN: 'false',
      REDIS_URL: redis.url,
      QUEUE_PREFIX,
      LOG_LEVEL: 'info',
      OFFLINE_LATENCY_MS: String(OFFLINE_LATENCY_MS),
      QUEUE_LOCK_MS: '3000',
      RECONCILE_INTERVAL_MS: '1000',
      WORKER_CONCURRENCY: '4',
      SHUTDOWN_GRACE_MS: '2000',
      RATE_LIMIT_PER_MINUTE: '1000000',
    };
    // The API first: it runs the migrations and seeds the agents on the new database.
    api = group.spawn('api', DIST_MAIN, {
      env: { ...env, HOST: '127.0.0.1', PORT: String(port), RUN_WORKERS: 'false' },
    });
    await waitForReady(baseUrl, 20_000, api);
    workers = await Promise.all([startWorker(), startWorker()]);
    timings['start-up (redis, api, 2 workers)'] = Date.now() - started;
  }, 90_000);

  afterAll(async () => {
    await group.stopAll(10_000);
    // E2E_KEEP_LOGS=<dir> keeps every process's output for reading after the run.
    const keep = process.env.E2E_KEEP_LOGS;
    if (keep !== undefined && keep !== '') group.writeLogs(keep);
    await redis?.dispose();
    if (dir !== '') fs.rmSync(dir, { recursive: true, force: true });
    const summary = Object.entries(timings)
      .map(([what, ms]) => `  ${what}: ${(ms / 1000).toFixed(1)} s`)
      .join('\n');
    console.info(
      `bullmq multi-process timings (${redisServerVersion(REDIS_SERVER ?? '') ?? 'redis'}):\n${summary}\n${notes.map((n) => `  ${n}`).join('\n')}`,
    );
  }, 40_000);

  // ------------------------------------------------------------------ scenarios

  it('the API only enqueues (RUN_WORKERS=false) and reports Redis in readiness', async () => {
    const ready = await getJson('/health/ready');
    expect(ready.status).toBe(200);
    expect(JSON.stringify(ready.body)).toContain('redis');
    expect(api.logs().some((l) => l.msg === 'processing jobs')).toBe(false);
    for (const worker of workers) {
      const line = worker.logs().find((l) => l.msg === 'processing jobs');
      expect(line?.driver).toBe('bullmq');
    }
  });

  it('a worker SIGKILLed mid-step: the other finishes all 12 workflows, each step completes once', async () => {
    const started = Date.now();
    const ids = await Promise.all(
      Array.from({ length: 12 }, (_, n) => submit(requestText('kill', n))),
    );
    // Each worker runs at most WORKER_CONCURRENCY (4) steps: with 5 or more running, both hold
    // at least one, so the worker killed next is certainly in the middle of a step.
    let runningAtKill = 0;
    await waitUntil(
      'five steps running at once',
      20_000,
      async () => {
        runningAtKill = await runningTasks(ids);
        return runningAtKill >= 5;
      },
      ids,
    );
    const victim = workers[0];
    if (victim === undefined) throw new Error('no worker to kill');
    const exit = await victim.kill();
    expect(exit.signal).toBe('SIGKILL');

    const done = await waitAllCompleted(ids);
    timings['SIGKILL: 12 workflows'] = Date.now() - started;
    const starts = await expectEachStepCompletedOnce(done);
    // The killed worker's steps came back (stalled-job recovery or reconciler) and ran again.
    const rerun = [...starts.values()].filter((n) => n >= 2).length;
    notes.push(
      `SIGKILL: ${runningAtKill} steps running at the kill, ${rerun} step(s) started again`,
    );
    if (rerun === 0) {
      throw new Error(
        `no step was started twice: the killed worker's in-flight step was not recovered\n${group.tails(20)}`,
      );
    }
  }, 90_000);

  it('FLUSHALL during a run of 16 workflows: the reconciler brings every one to completion', async () => {
    const started = Date.now();
    // Back to two workers (the survivor and a replacement).
    const replacement = await startWorker();
    workers = [workers[1] ?? replacement, replacement];
    // More workflows than the two workers' 8 slots of the tasks queue: each step job goes on
    // with the steps it makes ready (job chains), so the other branches' jobs wait in Redis.
    const ids = await Promise.all(
      Array.from({ length: 16 }, (_, n) => submit(requestText('flush', n))),
    );
    await waitUntil(
      'three steps started',
      20_000,
      async () => {
        const all = await Promise.all(ids.map((id) => events(id)));
        return all.flat().filter((e) => e.type === 'task.started').length >= 3;
      },
      ids,
    );
    const reconciledBefore = workers.flatMap((w) => w.logs()).filter(isReconcileLine).length;
    // FLUSHALL at a moment when jobs wait in Redis (checked and flushed atomically in one
    // script): those jobs exist nowhere else, so only the reconciler can bring them back.
    const waitLists = Object.values(QUEUE_NAMES).map((q) => `${QUEUE_PREFIX}:${q}:wait`);
    let lostJobs = 0;
    const flushDeadline = Date.now() + 20_000;
    while (lostJobs === 0) {
      const reply = await redisOrFail().command(
        'EVAL',
        FLUSH_IF_JOBS_WAIT,
        String(waitLists.length),
        ...waitLists,
      );
      lostJobs = Number(reply.replace(/^:/, ''));
      if (!Number.isInteger(lostJobs)) throw new Error(`unexpected EVAL reply ${reply}`);
      if (lostJobs === 0 && Date.now() > flushDeadline) {
        throw new Error(`no job ever waited in Redis to be flushed\n${await diagnostics(ids)}`);
      }
      if (lostJobs === 0) await sleep(20);
    }
    notes.push(`FLUSHALL dropped ${lostJobs} waiting job(s) (and every running job's keys)`);

    const done = await waitAllCompleted(ids);
    timings['FLUSHALL: 16 workflows'] = Date.now() - started;
    await expectEachStepCompletedOnce(done);
    const reconciledAfter = workers.flatMap((w) => w.logs()).filter(isReconcileLine).length;
    notes.push(
      `reconciler re-enqueued work ${reconciledAfter - reconciledBefore} time(s) after FLUSHALL`,
    );
    // The flushed waiting jobs came back through the reconciler (nothing else re-adds them).
    expect(reconciledAfter).toBeGreaterThan(reconciledBefore);
  }, 90_000);

  it('Redis stopped and started: readiness 503 then 200, quick submissions, work resumes without restarts', async () => {
    const started = Date.now();
    const server = redisOrFail();
    const pids = group
      .list()
      .filter((p) => p.exit() === undefined)
      .map((p) => p.pid);
    // Work in flight when Redis goes away: steps running in the workers, jobs waiting in Redis.
    const inFlight = await Promise.all(
      Array.from({ length: 3 }, (_, n) => submit(requestText('in-flight', n))),
    );
    await waitUntil(
      'a step running before Redis stops',
      20_000,
      async () => (await runningTasks(inFlight)) >= 1,
      inFlight,
    );
    const ids: string[] = [...inFlight];
    await server.stop();
    try {
      const stoppedAt = Date.now();
      await waitForHttpStatus(baseUrl, '/health/ready', 503, 8000, api);
      timings['  readiness 503 after Redis stopped'] = Date.now() - stoppedAt;
      const ready = await getJson('/health/ready');
      expect(ready.status).toBe(503);
      expect(JSON.stringify(ready.body)).toContain('redis');
      expect((await getJson('/health/live')).status).toBe(200);

      // A submission while Redis is away answers quickly: 202 (stored, dispatched later) or 503.
      const submitStarted = Date.now();
      const response = await fetch(`${baseUrl}/api/v1/workflows`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ request: requestText('outage', 1) }),
        signal: AbortSignal.timeout(10_000),
      });
      const elapsed = Date.now() - submitStarted;
      const text = await response.text();
      timings['  submission during the outage'] = elapsed;
      expect(elapsed).toBeLessThan(3000);
      expect([202, 503]).toContain(response.status);
      if (response.status === 202) {
        ids.push(workflowDetailSchema.parse(JSON.parse(text)).id);
      } else {
        expect(response.headers.get('content-type') ?? '').toContain('application/problem+json');
      }

      // Redis stays away a moment (clients back off), then comes back below.
      await sleep(1500);
    } finally {
      // A fresh, empty Redis on the same port, even when a check above failed (the next tests
      // need it); no Broski process is restarted.
      if (!server.running) await server.start();
    }
    const restartedAt = Date.now();
    await waitForReady(baseUrl, 20_000, api);
    timings['  readiness 200 after Redis came back'] = Date.now() - restartedAt;
    ids.push(await submit(requestText('after-outage', 2)));

    const done = await waitAllCompleted(ids, 45_000);
    await expectEachStepCompletedOnce(done);
    timings['Redis stop/start'] = Date.now() - started;
    const stillRunning = group
      .list()
      .filter((p) => p.exit() === undefined)
      .map((p) => p.pid);
    expect(stillRunning).toEqual(pids);
  }, 90_000);

  it('`node dist/worker.js` without REDIS_URL exits non-zero naming REDIS_URL', async () => {
    const noRedisEnv = { ...env };
    delete noRedisEnv.REDIS_URL;
    const lone = spawnNode('worker-without-redis', DIST_WORKER, {
      env: { ...noRedisEnv, DATABASE_PATH: path.join(dir, 'lone.db') },
      maxLifetimeMs: 20_000,
    });
    const exit = await raceTimeout(lone.exited, 15_000);
    if (exit === undefined) {
      await lone.kill();
      throw new Error(`the worker did not exit within 15 s\n${lone.tail()}`);
    }
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(lone.stderr()).toContain('REDIS_URL');
  }, 30_000);

  it('every process shuts down cleanly on SIGTERM and no output has an unhandled error', async () => {
    const alive = group.list().filter((p) => p.exit() === undefined);
    const exits = await Promise.all(
      alive.map(async (p) => ({ name: p.name, exit: await p.stop(20_000) })),
    );
    const unclean = exits.filter((e) => e.exit.code !== 0);
    // A 503 answer is a deliberate "unavailable" (pino-http logs every 5xx at level error).
    const offending = group.list().flatMap((p) => errorLines(p, isDeliberate503));
    // Several processes share the SQLite file: a busy database must never surface.
    const busy = group
      .list()
      .flatMap((p) => [...p.lines(), p.stderr()].filter((l) => l.includes('SQLITE_BUSY')));
    offending.push(...busy.map((l) => `[SQLITE_BUSY] ${l}`));
    if (unclean.length > 0 || offending.length > 0) {
      throw new Error(
        [
          `unclean exits: ${JSON.stringify(unclean)}`,
          `error lines (${offending.length}):`,
          ...offending.slice(0, 40),
          group.tails(10),
        ].join('\n'),
      );
    }
  }, 40_000);
});

function isDeliberate503(line: LogLine): boolean {
  const res = line.res;
  const status =
    typeof res === 'object' && res !== null && 'statusCode' in res ? res.statusCode : undefined;
  return status === 503 && !/unhandled|uncaught/i.test(line.raw);
}

function isReconcileLine(line: { msg?: string }): boolean {
  return line.msg === 'reconciler re-enqueued unfinished work';
}

import Database from 'better-sqlite3';
import { setTimeout as sleep } from 'node:timers/promises';
import { SQLITE } from '../../src/modules/database/database.tokens';
import { Reconciler } from '../../src/modules/orchestrator/reconciler.service';
import { readyTasks } from '../../src/modules/orchestrator/workflow-engine.service';
import { JobQueue } from '../../src/modules/queue/job-queue';
import type { TaskStatus } from '../../src/modules/workflows/workflow-status';
import type { WorkflowDetail } from '../../src/modules/workflows/workflows.contract';
import { startTestApp, type TestApp } from '../helpers/app';
import { testConfig } from '../helpers/config';
import { allEvents, getWorkflow, submit, waitForStatus } from '../helpers/http';

interface TaskTrace {
  id: string;
  key: string;
  status: string;
  carried_by: string | null;
}

/**
 * A planned workflow (approval asked, so that nothing ran), set running and then as `stage`
 * leaves its steps in the same transaction: the state a worker left when it died.
 */
async function stageRunning(
  t: TestApp,
  request: string,
  stage: (sqlite: Database.Database, workflow: WorkflowDetail) => void,
): Promise<WorkflowDetail> {
  const workflow = await submit(t.app, { request, requireApproval: true });
  const waiting = await waitForStatus(t.app, workflow.id, ['awaiting_approval']);
  const sqlite = t.app.get<Database.Database>(SQLITE);
  sqlite.transaction(() => {
    sqlite.prepare("UPDATE workflows SET status = 'running' WHERE id = ?").run(workflow.id);
    stage(sqlite, waiting);
  })();
  return waiting;
}

/**
 * As if the worker had died right after the first step's job took on the next one: the first is
 * completed, the next queued and carried by that job, nothing else in the queue. Then the queue
 * delivers the first step's job again (a stalled job after its worker died).
 */
async function stageCarriedStep(
  t: TestApp,
): Promise<{ workflowId: string; next: { id: string; key: string } }> {
  let next: { id: string; key: string } | undefined;
  let firstId = '';
  const workflow = await stageRunning(
    t,
    'Research rye flour and write a note about it',
    (sqlite, { tasks }) => {
      const [first, ...rest] = tasks;
      if (first === undefined) throw new Error('expected a plan');
      next = rest.find((x) => x.dependsOn.length > 0 && x.dependsOn.every((d) => d === first.key));
      if (next === undefined) throw new Error('expected a step that needs only the first');
      firstId = first.id;
      sqlite
        .prepare(
          "UPDATE tasks SET status = 'completed', output = 'Rye notes', attempts = 1 WHERE id = ?",
        )
        .run(first.id);
      sqlite
        .prepare("UPDATE tasks SET status = 'queued', carried_by = ? WHERE id = ?")
        .run(`task:${first.id}`, next.id);
    },
  );
  if (next === undefined) throw new Error('expected a step that needs only the first');
  await t.app.get(JobQueue).enqueue('task', { workflowId: workflow.id, taskId: firstId });
  return { workflowId: workflow.id, next };
}

describe('reconciler', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp(
      testConfig({
        RECONCILE_INTERVAL_MS: '0',
        OFFLINE_LATENCY_MS: '300',
        SQLITE_BUSY_TIMEOUT_MS: '200',
      }),
    );
  });

  afterAll(async () => {
    await t?.close();
  });

  it('queues ready steps nobody queued and runs them to the end', async () => {
    const workflow = await submit(t.app, {
      request: 'Research bakery trends and write a short blog post',
      requireApproval: true,
    });
    const waiting = await waitForStatus(t.app, workflow.id, ['awaiting_approval']);
    expect(waiting.tasks.every((task) => task.status === 'pending')).toBe(true);
    // As if the process had died between marking the workflow running and queueing its steps.
    const sqlite = t.app.get<Database.Database>(SQLITE);
    sqlite.prepare("UPDATE workflows SET status = 'running' WHERE id = ?").run(workflow.id);

    const report = await t.app.get(Reconciler).reconcile();
    expect(report.tasks).toBeGreaterThan(0);
    const done = await waitForStatus(t.app, workflow.id, ['completed']);
    expect(done.tasks.every((task) => task.status === 'completed')).toBe(true);
  });

  it('does not take the write lock when every running workflow is in order', async () => {
    const workflow = await submit(t.app, { request: 'Write a short poem about rye bread' });
    let running = false;
    for (let i = 0; i < 100 && !running; i += 1) {
      running = (await getWorkflow(t.app, workflow.id)).tasks.some((x) => x.status === 'running');
      if (!running) await sleep(20);
    }
    expect(running).toBe(true);
    // Another writer holds the lock: a reconciler that wrote would fail with SQLITE_BUSY.
    const other = new Database(t.config.database.path);
    other.exec('BEGIN IMMEDIATE');
    try {
      expect(await t.app.get(Reconciler).reconcile()).toEqual({ plan: 0, tasks: 0, finalize: 0 });
    } finally {
      other.exec('COMMIT');
      other.close();
    }
    await waitForStatus(t.app, workflow.id, ['completed']);
  });

  /** Polls the database until `found` returns something (or fails after ~6 s). */
  async function until<T>(found: () => T | undefined): Promise<T> {
    for (let i = 0; i < 600; i += 1) {
      const value = found();
      if (value !== undefined) return value;
      await sleep(10);
    }
    throw new Error('the awaited state never came');
  }

  function tasksOf(id: string): TaskTrace[] {
    return t.app
      .get<Database.Database>(SQLITE)
      .prepare<[string], TaskTrace>(
        'SELECT id, key, status, carried_by FROM tasks WHERE workflow_id = ? ORDER BY position',
      )
      .all(id);
  }

  it('leaves a step to the live job that carries it; enqueues it once that job is gone', async () => {
    const workflow = await submit(t.app, { request: 'Research bakery trends and write a post' });
    // A step's job runs the next step it made ready itself.
    const carried = await until(() =>
      tasksOf(workflow.id).find((x) => x.status === 'running' && x.carried_by !== null),
    );
    expect(carried.carried_by).toMatch(/^task:/);
    expect(await t.app.get(Reconciler).reconcile()).toEqual({ plan: 0, tasks: 0, finalize: 0 });

    // The carrying job is gone (its process died): the reconciler gives the step a job of its own.
    t.app
      .get<Database.Database>(SQLITE)
      .prepare(
        "UPDATE tasks SET carried_by = 'task:00000000-0000-7000-8000-000000000000' WHERE id = ?",
      )
      .run(carried.id);
    const report = await t.app.get(Reconciler).reconcile();
    expect(report.tasks).toBe(1);
    expect(tasksOf(workflow.id).find((x) => x.id === carried.id)?.carried_by).toBeNull();
    const done = await waitForStatus(t.app, workflow.id, ['completed']);
    expect(done.tasks.every((task) => task.status === 'completed')).toBe(true);
    const completions = (await allEvents(t.app, workflow.id)).filter(
      (e) => e.type === 'task.completed',
    );
    expect(completions.map((e) => e.taskId).sort()).toEqual(done.tasks.map((x) => x.id).sort());
  });

  it('does not enqueue the final review that the job of the last step runs itself', async () => {
    const workflow = await submit(t.app, { request: 'Write a two-line poem about spelt' });
    // Every step done, the workflow still running: the last step's job is in the final review.
    await until(() => {
      const tasks = tasksOf(workflow.id);
      return tasks.length > 0 && tasks.every((x) => x.status === 'completed') ? tasks : undefined;
    });
    expect((await getWorkflow(t.app, workflow.id)).status).toBe('running');
    // The review runs in the job of the last step, not in a finalize job of its own.
    expect(await t.app.get(JobQueue).isLive('finalize', { workflowId: workflow.id })).toBe(false);
    expect(await t.app.get(Reconciler).reconcile()).toEqual({ plan: 0, tasks: 0, finalize: 0 });
    await waitForStatus(t.app, workflow.id, ['completed']);
    // One safety review and one summary: a second review would have added calls.
    const reviews = t.app
      .get<Database.Database>(SQLITE)
      .prepare<[string], { agent_type: string }>(
        'SELECT agent_type FROM llm_calls WHERE workflow_id = ? AND task_id IS NULL',
      )
      .all(workflow.id)
      .map((x) => x.agent_type)
      .sort();
    expect(reviews).toEqual(['orchestrator', 'orchestrator', 'safety']);
  });

  it('a carrying job delivered again goes on with the step it had taken on, then the review', async () => {
    const { workflowId, next } = await stageCarriedStep(t);
    const done = await waitForStatus(t.app, workflowId, ['completed']);
    expect(done.tasks.every((task) => task.status === 'completed')).toBe(true);
    expect(done.result?.summary).toEqual(expect.any(String));
    // It ran in the chain of the job delivered again.
    expect(tasksOf(workflowId).find((x) => x.id === next.id)?.carried_by).toMatch(/^task:/);
  });

  it('a carrying job delivered again when every step is done runs the final review', async () => {
    // As if the worker had died in the final review its last step's job had gone on with.
    const workflow = await stageRunning(t, 'Write a short note about barley', (sqlite, { id }) => {
      sqlite
        .prepare(
          "UPDATE tasks SET status = 'completed', output = 'Barley notes', attempts = 1 WHERE workflow_id = ?",
        )
        .run(id);
    });
    const last = workflow.tasks.at(-1);
    if (last === undefined) throw new Error('expected a plan');
    await t.app.get(JobQueue).enqueue('task', { workflowId: workflow.id, taskId: last.id });
    const done = await waitForStatus(t.app, workflow.id, ['completed']);
    expect(done.result?.summary).toEqual(expect.any(String));
    expect(done.result?.outputs[last.key]).toBe('Barley notes');
  });

  it('finds the pending steps whose dependencies are all completed', () => {
    const task = (key: string, status: TaskStatus, dependsOn: string[] = []) => ({
      key,
      status,
      dependsOn,
    });
    expect(
      readyTasks([
        task('research', 'completed'),
        task('design', 'pending', ['research']),
        task('build', 'pending', ['design']),
        task('write', 'queued', ['research']),
      ]).map((x) => x.key),
    ).toEqual(['design']);
  });
});

describe('job chains (JOB_CHAIN_STEPS)', () => {
  const request = 'Build a landing page for a bakery and write its launch announcement';

  /** Runs one workflow to the end; returns each step's carrier (the job that ran it), by key. */
  async function carriersWith(chainSteps: string): Promise<Map<string, string | null>> {
    const t = await startTestApp(testConfig({ JOB_CHAIN_STEPS: chainSteps }));
    try {
      const workflow = await submit(t.app, { request });
      const done = await waitForStatus(t.app, workflow.id, ['completed']);
      expect(done.tasks.length).toBeGreaterThanOrEqual(4);
      const rows = t.app
        .get<Database.Database>(SQLITE)
        .prepare<[string], TaskTrace>(
          'SELECT id, key, status, carried_by FROM tasks WHERE workflow_id = ? ORDER BY position',
        )
        .all(workflow.id);
      const byId = new Map(rows.map((x) => [`task:${x.id}`, x.key]));
      return new Map(
        rows.map((x) => [
          x.key,
          x.carried_by === null ? null : (byId.get(x.carried_by) ?? x.carried_by),
        ]),
      );
    } finally {
      await t.close();
    }
  }

  it('by default a step job goes on with the steps it makes ready; the plan job does not', async () => {
    const carriers = await carriersWith('12');
    const values = [...carriers.values()];
    // Every carrier is a step of the same workflow (never the plan job).
    for (const carrier of values) if (carrier !== null) expect(carriers.has(carrier)).toBe(true);
    // The first step has a job of its own; one job ran several steps in a row.
    expect([...carriers.values()][0]).toBeNull();
    const perCarrier = new Map<string, number>();
    for (const c of values) if (c !== null) perCarrier.set(c, (perCarrier.get(c) ?? 0) + 1);
    expect(Math.max(...perCarrier.values())).toBeGreaterThanOrEqual(2);
  });

  it('with JOB_CHAIN_STEPS=0, a carrying job delivered again gives the step a job of its own', async () => {
    const t = await startTestApp(testConfig({ JOB_CHAIN_STEPS: '0', RECONCILE_INTERVAL_MS: '0' }));
    try {
      const { workflowId, next } = await stageCarriedStep(t);
      const done = await waitForStatus(t.app, workflowId, ['completed']);
      expect(done.tasks.every((task) => task.status === 'completed')).toBe(true);
      const carriedBy = t.app
        .get<Database.Database>(SQLITE)
        .prepare<[string], { carried_by: string | null }>(
          'SELECT carried_by FROM tasks WHERE id = ?',
        )
        .get(next.id)?.carried_by;
      expect(carriedBy).toBeNull();
    } finally {
      await t.close();
    }
  });

  it('JOB_CHAIN_STEPS=1: a job runs at most one step after its own; 0: every step has its own job', async () => {
    const one = [...(await carriersWith('1')).values()].filter((c) => c !== null);
    expect(one.length).toBeGreaterThan(0);
    expect(new Set(one).size).toBe(one.length);
    const none = [...(await carriersWith('0')).values()];
    expect(none.every((c) => c === null)).toBe(true);
  });
});

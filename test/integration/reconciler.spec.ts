import Database from 'better-sqlite3';
import { setTimeout as sleep } from 'node:timers/promises';
import { SQLITE } from '../../src/modules/database/database.tokens';
import { Reconciler } from '../../src/modules/orchestrator/reconciler.service';
import { readyTasks } from '../../src/modules/orchestrator/workflow-engine.service';
import type { TaskStatus } from '../../src/modules/workflows/workflow-status';
import { startTestApp, type TestApp } from '../helpers/app';
import { testConfig } from '../helpers/config';
import { getWorkflow, submit, waitForStatus } from '../helpers/http';

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

import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as pause } from 'node:timers/promises';
import { z } from 'zod';
import { tempDir } from '../helpers/config';
import {
  DIST_MAIN,
  ensureBuilt,
  freePort,
  ProcessGroup,
  raceTimeout,
  waitForHttpStatus,
  type ManagedProcess,
} from '../helpers/processes';
import {
  eventSchema,
  workflowDetailSchema,
  workflowSchema,
  type WorkflowDetail,
  type WorkflowEvent,
} from '../../src/modules/workflows/workflows.contract';

/**
 * SIGKILL of the real server (`node dist/main.js`) in the middle of a step, then a restart on the
 * same database: nothing accepted is lost, every workflow completes, no step completes twice.
 * `npm test` builds first (pretest); this file builds too when dist/main.js is missing.
 */

/** Every wait of this file is bounded by this. */
const WAIT_MS = 20_000;

interface Server {
  process: ManagedProcess;
  base: string;
}

const group = new ProcessGroup();
let dir: string | undefined;

/** `node dist/main.js` on a free port, with only the environment given; waits until it is live. */
async function startServer(
  name: string,
  cwd: string,
  env: Record<string, string>,
): Promise<Server> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proc = group.spawn(name, DIST_MAIN, {
    cwd,
    env: { HOST: '127.0.0.1', PORT: String(port), ...env },
    maxLifetimeMs: 60_000,
  });
  await waitForHttpStatus(base, '/health/live', 200, WAIT_MS, proc);
  return { process: proc, base };
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${await res.text()}`);
  return res.json();
}

const eventPage = z.object({ items: z.array(eventSchema), nextCursor: z.string().nullable() });
const workflowPage = z.object({
  items: z.array(workflowSchema),
  nextCursor: z.string().nullable(),
});

async function eventsOf(server: Server, id: string): Promise<WorkflowEvent[]> {
  return eventPage.parse(await getJson(`${server.base}/api/v1/workflows/${id}/events?limit=1000`))
    .items;
}

async function workflowOf(server: Server, id: string): Promise<WorkflowDetail> {
  return workflowDetailSchema.parse(await getJson(`${server.base}/api/v1/workflows/${id}`));
}

beforeAll(() => {
  ensureBuilt();
  dir = tempDir('broski-crash-');
}, 200_000);

afterAll(async () => {
  await group.stopAll();
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
});

describe('SIGKILL during a step and a restart on the same database', () => {
  it('loses nothing accepted, completes every workflow, and completes no step twice', async () => {
    const cwd = dir ?? tempDir('broski-crash-');
    const env = {
      DATABASE_PATH: path.join(cwd, 'data', 'broski.db'),
      BACKUP_DIR: path.join(cwd, 'backups'),
      QUEUE_DRIVER: 'inline',
      OFFLINE_LATENCY_MS: '800',
      LOG_LEVEL: 'info',
    };

    // ---- the first process: accept three workflows, die in the middle of a step
    const first = await startServer('first', cwd, env);
    const ids: string[] = [];
    for (let i = 1; i <= 3; i += 1) {
      const res = await fetch(`${first.base}/api/v1/workflows`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          request: `Research, design and build a landing page for bakery number ${i}`,
        }),
      });
      expect(res.status).toBe(202);
      ids.push(workflowSchema.parse(await res.json()).id);
    }

    // Steps that started and had not completed when the process died.
    let inFlight: string[] = [];
    const deadline = Date.now() + WAIT_MS;
    while (inFlight.length === 0) {
      if (Date.now() > deadline) throw new Error('no step ever started');
      for (const id of ids) {
        const events = await eventsOf(first, id);
        const completed = events.filter((e) => e.type === 'task.completed');
        const started = events.filter((e) => e.type === 'task.started');
        if (started.length > 0 && completed.length === 0) {
          inFlight = started.map((e) => e.taskId ?? '');
          break;
        }
      }
      if (inFlight.length === 0) await pause(20);
    }
    const died = await raceTimeout(first.process.kill(), WAIT_MS);
    expect(died?.signal).toBe('SIGKILL');

    // ---- the second process on the same database picks the work up
    const second = await startServer('second', cwd, env);

    const finished: WorkflowDetail[] = [];
    for (const id of ids) {
      const end = Date.now() + WAIT_MS;
      for (;;) {
        const workflow = await workflowOf(second, id);
        if (['completed', 'failed', 'cancelled'].includes(workflow.status)) {
          finished.push(workflow);
          break;
        }
        if (Date.now() > end) throw new Error(`workflow ${id} is still ${workflow.status}`);
        await pause(100);
      }
    }

    // Every accepted workflow is still there, and completed.
    const listed = workflowPage.parse(await getJson(`${second.base}/api/v1/workflows?limit=100`));
    expect(listed.items.map((w) => w.id).sort()).toEqual([...ids].sort());
    expect(finished.map((w) => w.status)).toEqual(['completed', 'completed', 'completed']);

    let rerun = 0;
    for (const workflow of finished) {
      expect(workflow.tasks.length).toBeGreaterThan(0);
      expect(Object.keys(workflow.result?.outputs ?? {}).sort()).toEqual(
        workflow.tasks.map((t) => t.key).sort(),
      );
      const events = await eventsOf(second, workflow.id);
      for (const task of workflow.tasks) {
        expect(task.status).toBe('completed');
        // No step completed twice.
        const own = events.filter((e) => e.taskId === task.id);
        expect(own.filter((e) => e.type === 'task.completed')).toHaveLength(1);
        expect(own[own.length - 1]?.type).toBe('task.completed');
        if (inFlight.includes(task.id)) {
          // The interrupted run never completed; the step ran again after the restart.
          expect(own.filter((e) => e.type === 'task.started').length).toBeGreaterThanOrEqual(2);
          rerun += 1;
        }
      }
      expect(events.filter((e) => e.type === 'workflow.completed')).toHaveLength(1);
      expect(events[events.length - 1]?.type).toBe('workflow.completed');
    }
    expect(rerun).toBe(inFlight.length);

    // The restarted process resumed the work and logged no error.
    const output = second.process;
    expect(output.logs()).toHaveLength(output.lines().length); // every stdout line is JSON
    expect(output.logs().some((l) => l.msg === 'reconciler re-enqueued unfinished work')).toBe(
      true,
    );
    const errors = output.logs().filter((l) => l.level === 'error' || l.level === 'fatal');
    expect(errors).toEqual([]);
    expect(output.stderr()).not.toMatch(/error/i);
  }, 60_000);
});

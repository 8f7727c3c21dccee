import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir } from '../helpers/config';
import {
  DIST_MAIN,
  DIST_WORKER,
  ensureBuilt,
  errorLines,
  freePort,
  ProcessGroup,
  waitForReady,
} from '../helpers/processes';
import { findRedisServer, startPrivateRedis, type PrivateRedis } from '../helpers/redis-server';

/**
 * Cancel across processes: the API (RUN_WORKERS=false) cancels a workflow whose step runs in a
 * separate worker; the worker aborts the model call within about a second.
 */
const REDIS_SERVER = findRedisServer();
const STEP_MS = 8000;

interface CallRow {
  status: string;
  error: string | null;
  latencyMs: number;
}

function stepCalls(databasePath: string, workflowId: string): CallRow[] {
  const db = new Database(databasePath, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare(
        "SELECT status, error, latency_ms AS latencyMs FROM llm_calls WHERE workflow_id = ? AND purpose = 'step'",
      )
      .all(workflowId)
      .map((row) => {
        const r = typeof row === 'object' && row !== null ? row : {};
        return {
          status: 'status' in r ? String(r.status) : '',
          error: 'error' in r && typeof r.error === 'string' ? r.error : null,
          latencyMs: 'latencyMs' in r ? Number(r.latencyMs) : -1,
        };
      });
  } finally {
    db.close();
  }
}

describe('cancel across processes', () => {
  const group = new ProcessGroup();
  let redis: PrivateRedis | undefined;
  const dir = tempDir();

  beforeAll(() => ensureBuilt());
  afterAll(async () => {
    await group.stopAll();
    await redis?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('aborts a step running in a worker about a second after the API cancels', async () => {
    if (REDIS_SERVER === undefined) throw new Error('redis-server is not installed');
    redis = await startPrivateRedis(REDIS_SERVER);
    const databasePath = path.join(dir, 'broski.db');
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const common = {
      DATABASE_PATH: databasePath,
      REDIS_URL: `redis://127.0.0.1:${redis.port}`,
      QUEUE_PREFIX: 'broski-cancel',
      LOG_LEVEL: 'info',
      BACKUP_ON_SHUTDOWN: 'false',
    };
    const api = group.spawn('api', DIST_MAIN, {
      env: { ...common, PORT: String(port), RUN_WORKERS: 'false' },
    });
    await waitForReady(base, 20_000, api);
    // Every model call in the worker takes STEP_MS (planning too), unless it is aborted.
    const worker = group.spawn('worker', DIST_WORKER, {
      env: { ...common, OFFLINE_LATENCY_MS: String(STEP_MS) },
    });
    await worker.waitForLog((l) => l.msg === 'processing jobs', 20_000, 'the worker to start');

    const submitted = await fetch(`${base}/api/v1/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ request: 'Write a poem about sourdough', agents: ['writer'] }),
    });
    const body: unknown = await submitted.json();
    const id = typeof body === 'object' && body !== null && 'id' in body ? String(body.id) : '';
    expect(id).not.toBe('');
    // Wait until the step runs in the worker.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const events: unknown = await (await fetch(`${base}/api/v1/workflows/${id}/events`)).json();
      if (JSON.stringify(events).includes('"task.started"')) break;
      if (Date.now() > deadline) throw new Error(`no step started\n${group.tails()}`);
      await sleep(50);
    }
    await sleep(300);
    const cancelledAt = Date.now();
    const cancel = await fetch(`${base}/api/v1/workflows/${id}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(200);

    // The worker aborts the model call and records it, well before the step would have ended.
    let calls: CallRow[] = [];
    while (Date.now() - cancelledAt < 5000) {
      calls = stepCalls(databasePath, id);
      if (calls.length > 0) break;
      await sleep(50);
    }
    const abortedAfterMs = Date.now() - cancelledAt;
    expect(calls).toHaveLength(1);
    expect(calls[0]?.status).toBe('error');
    expect(calls[0]?.error ?? '').toMatch(/abort/i);
    expect(abortedAfterMs).toBeLessThan(2000);
    expect(calls[0]?.latencyMs ?? STEP_MS).toBeLessThan(STEP_MS - 4000);

    const final: unknown = await (await fetch(`${base}/api/v1/workflows/${id}`)).json();
    expect(final).toMatchObject({ status: 'cancelled' });
    expect(errorLines(api)).toEqual([]);
    expect(errorLines(worker)).toEqual([]);
  }, 90_000);
});

import * as path from 'node:path';
import { eq } from 'drizzle-orm';
import { loadConfig } from '../../src/config/app-config';
import {
  openDatabase,
  runMigrations,
  type Connection,
} from '../../src/modules/database/connection';
import { DirectStatement } from '../../src/modules/database/direct-statement';
import { workflowEvents } from '../../src/modules/workflows/workflow-events.table';
import { LlmCallsRepository } from '../../src/modules/llm/llm-calls.repository';
import { llmCalls } from '../../src/modules/llm/llm-calls.table';
import { TasksRepository } from '../../src/modules/tasks/tasks.repository';
import { tasks } from '../../src/modules/tasks/tasks.table';
import {
  insertEventQuery,
  WorkflowsRepository,
} from '../../src/modules/workflows/workflows.repository';
import { workflows, type NewWorkflowRow } from '../../src/modules/workflows/workflows.table';
import { tempDir } from '../helpers/config';

// A statement Drizzle builds and better-sqlite3 runs directly must write and read exactly what
// Drizzle's own prepared query does with the same values.
describe('DirectStatement', () => {
  let connection: Connection;
  const at = '2026-11-25T10:00:00.000Z';

  beforeAll(() => {
    const config = loadConfig({
      DATABASE_PATH: path.join(tempDir('broski-direct-'), 'broski.db'),
    });
    connection = openDatabase(config.database);
    runMigrations(connection);
    connection.db
      .insert(workflows)
      .values({ id: 'wf', userRequest: 'r', createdAt: at, updatedAt: at })
      .run();
  });

  afterAll(() => connection.sqlite.close());

  // The repository's own event insert.
  const insertEvent = () => insertEventQuery(connection.db);

  it('stores what Drizzle stores: placeholders, JSON columns encoded, nulls', () => {
    const { db, sqlite } = connection;
    const direct = new DirectStatement(db, insertEvent());
    const drizzle = insertEvent().prepare();
    const cases = [
      { data: { key: 'a', nested: { n: 1, list: ['x', null] } }, taskId: null },
      { data: null, taskId: 't-1' },
      { data: 'a “quoted” text', taskId: null },
    ];
    for (const c of cases) {
      const values = {
        workflowId: 'wf',
        taskId: c.taskId,
        type: 'task.completed',
        message: `message ${JSON.stringify(c.data)}`,
        data: c.data,
        createdAt: at,
      };
      expect(direct.run(values).changes).toBe(1);
      drizzle.run(values);
    }
    const stored = sqlite
      .prepare('SELECT task_id, type, message, data, created_at FROM workflow_events ORDER BY id')
      .all();
    expect(stored).toHaveLength(cases.length * 2);
    for (let i = 0; i < cases.length; i += 1) expect(stored[2 * i]).toEqual(stored[2 * i + 1]);
    // Read back through Drizzle, the JSON column decodes to the value given.
    const read = db.select().from(workflowEvents).orderBy(workflowEvents.id).all();
    expect(read.filter((_, i) => i % 2 === 0).map((e) => e.data)).toEqual(cases.map((c) => c.data));
  });

  it('reads rows as arrays in the order of the select, literal conditions bound', () => {
    const { db } = connection;
    const query = db
      .select({ id: workflows.id, status: workflows.status })
      .from(workflows)
      .where(eq(workflows.status, 'pending'));
    const direct = new DirectStatement(db, query);
    expect(direct.rows()).toEqual([['wf', 'pending']]);
    expect(direct.rows()).toEqual(query.prepare().values());
  });

  it('names a missing placeholder, as Drizzle does', () => {
    const direct = new DirectStatement(connection.db, insertEvent());
    expect(() => direct.run({ workflowId: 'wf' })).toThrow(
      'No value for placeholder "taskId" was provided',
    );
  });

  it("stores through the repositories' inserts what Drizzle's own insert of the same row stores", () => {
    const { db, sqlite } = connection;
    /** A stored row without its id, as SQLite has it. */
    const stored = (table: string, id: string): Record<string, unknown> => {
      const row: unknown = sqlite.prepare(`SELECT * FROM ${table} WHERE id = ?`).get(id);
      if (typeof row !== 'object' || row === null) throw new Error(`no ${table} row ${id}`);
      return { ...row, id: undefined };
    };
    const workflowsRepository = new WorkflowsRepository(db);
    const variants: Array<Omit<NewWorkflowRow, 'id'>> = [
      {
        userRequest: 'Bake “bread”',
        status: 'pending',
        plan: { steps: [] },
        requireApproval: true,
        allowedAgents: ['writer'],
        metadata: { team: 'a', n: 1 },
        idempotencyKey: null,
        createdAt: at,
        updatedAt: at,
      },
      { userRequest: 'r', createdAt: at, updatedAt: at },
    ];
    variants.forEach((row, i) => {
      expect(workflowsRepository.insert({ ...row, id: `w-repo-${i}` })).toBe(true);
      db.insert(workflows)
        .values({ ...row, id: `w-drizzle-${i}` })
        .run();
      expect(stored('workflows', `w-repo-${i}`)).toEqual(stored('workflows', `w-drizzle-${i}`));
    });
    // A taken idempotency key: nothing stored, false.
    const keyed = { userRequest: 'k', idempotencyKey: 'key-1', createdAt: at, updatedAt: at };
    expect(workflowsRepository.insert({ ...keyed, id: 'w-key-1' })).toBe(true);
    expect(workflowsRepository.insert({ ...keyed, id: 'w-key-2' })).toBe(false);

    const task = {
      workflowId: 'wf',
      key: 'k',
      position: 0,
      title: 'T',
      agentType: 'writer',
      input: 'do it',
      dependsOn: ['a', 'b'],
      createdAt: at,
    };
    new TasksRepository(db).insertMany([{ ...task, id: 't-repo' }]);
    db.insert(tasks)
      .values({ ...task, key: 'k2', id: 't-drizzle' })
      .run();
    expect({ ...stored('tasks', 't-repo'), key: 'k2' }).toEqual(stored('tasks', 't-drizzle'));

    const call = {
      workflowId: 'wf',
      taskId: null,
      agentType: 'orchestrator',
      purpose: 'plan',
      provider: 'offline',
      model: 'offline',
      inputTokens: 10,
      outputTokens: 20,
      latencyMs: 3,
      status: 'ok' as const,
      error: null,
      createdAt: at,
    };
    new LlmCallsRepository(db).insert({ ...call, id: 'c-repo' });
    db.insert(llmCalls)
      .values({ ...call, id: 'c-drizzle' })
      .run();
    expect(stored('llm_calls', 'c-repo')).toEqual(stored('llm_calls', 'c-drizzle'));
  });
});

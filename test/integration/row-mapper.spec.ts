import * as path from 'node:path';
import { eq } from 'drizzle-orm';
import { loadConfig } from '../../src/config/app-config';
import {
  openDatabase,
  runMigrations,
  type Connection,
} from '../../src/modules/database/connection';
import {
  OUTPUT_COLUMNS,
  STATE_COLUMNS,
  TasksRepository,
} from '../../src/modules/tasks/tasks.repository';
import { tasks } from '../../src/modules/tasks/tasks.table';
import {
  BRIEF_COLUMNS,
  WorkflowsRepository,
} from '../../src/modules/workflows/workflows.repository';
import { workflows } from '../../src/modules/workflows/workflows.table';
import { tempDir } from '../helpers/config';

// The repositories read whole rows in array mode and map them with RowMapper; what they return
// must be exactly what Drizzle's own mapping returns for the same rows, every column decoded.
describe('rows read in array mode (RowMapper)', () => {
  let connection: Connection;
  const at = '2026-11-24T10:00:00.000Z';

  beforeAll(() => {
    const config = loadConfig({
      DATABASE_PATH: path.join(tempDir('broski-rows-'), 'broski.db'),
    });
    connection = openDatabase(config.database);
    runMigrations(connection);
    const { db } = connection;
    db.insert(workflows)
      .values([
        {
          id: 'wf-full',
          userRequest: 'Write a haiku — about “snow”',
          status: 'failed',
          plan: {
            steps: [
              { key: 'a', title: 'A', agentType: 'writer', instructions: 'x', dependsOn: [] },
            ],
          },
          result: {
            summary: 'done',
            safety: { approved: true, notes: 'ok' },
            outputs: { a: 'text' },
          },
          error: { code: 'MODEL_ERROR', message: 'boom' },
          requireApproval: true,
          allowedAgents: ['writer'],
          metadata: { team: 'docs', n: 3 },
          idempotencyKey: 'key-1',
          requestHash: 'abc',
          createdAt: at,
          updatedAt: at,
          startedAt: at,
          finishedAt: at,
        },
        { id: 'wf-bare', userRequest: 'r', createdAt: at, updatedAt: at },
      ])
      .run();
    db.insert(tasks)
      .values([
        {
          id: 't-2',
          workflowId: 'wf-full',
          key: 'b',
          position: 1,
          title: 'B',
          agentType: 'writer',
          input: 'in',
          output: 'out',
          status: 'failed',
          dependsOn: ['a'],
          attempts: 3,
          runId: 'run-1',
          carriedBy: 'task:x',
          error: { code: 'MODEL_ERROR', message: 'boom' },
          createdAt: at,
          startedAt: at,
          finishedAt: at,
        },
        {
          id: 't-1',
          workflowId: 'wf-full',
          key: 'a',
          position: 0,
          title: 'A',
          agentType: 'writer',
          input: 'in',
          dependsOn: [],
          createdAt: at,
        },
      ])
      .run();
  });

  afterAll(() => connection.sqlite.close());

  it('reads workflows with every column as Drizzle maps it', () => {
    const repository = new WorkflowsRepository(connection.db);
    for (const id of ['wf-full', 'wf-bare']) {
      const drizzleRow = connection.db.select().from(workflows).where(eq(workflows.id, id)).get();
      expect(repository.findById(id)).toStrictEqual(drizzleRow);
    }
    const full = repository.findById('wf-full');
    expect(full?.requireApproval).toBe(true);
    expect(full?.metadata).toEqual({ team: 'docs', n: 3 });
    expect(repository.findById('wf-bare')?.requireApproval).toBe(false);
    expect(repository.findById('missing')).toBeUndefined();
  });

  it('reads tasks by id and by workflow, in plan order, as Drizzle maps them', () => {
    const repository = new TasksRepository(connection.db);
    const drizzleRows = connection.db
      .select()
      .from(tasks)
      .where(eq(tasks.workflowId, 'wf-full'))
      .orderBy(tasks.position)
      .all();
    expect(repository.listByWorkflow('wf-full')).toStrictEqual(drizzleRows);
    expect(repository.listByWorkflow('wf-full').map((t) => t.key)).toEqual(['a', 'b']);
    expect(repository.findById('t-2')).toStrictEqual(drizzleRows[1]);
    expect(repository.findById('t-2')?.dependsOn).toEqual(['a']);
    expect(repository.listByWorkflow('wf-bare')).toEqual([]);
    expect(repository.findById('missing')).toBeUndefined();
  });

  it('reads partial selects (task states, outputs, a workflow brief) as Drizzle maps them', () => {
    const { db } = connection;
    const taskRepository = new TasksRepository(db);
    // The same selections, mapped by Drizzle itself.
    const states = db
      .select(STATE_COLUMNS)
      .from(tasks)
      .where(eq(tasks.workflowId, 'wf-full'))
      .orderBy(tasks.position)
      .all();
    expect(taskRepository.listStatesByWorkflow('wf-full')).toStrictEqual(states);
    expect(states.map((t) => [t.key, t.dependsOn, t.carriedBy])).toEqual([
      ['a', [], null],
      ['b', ['a'], 'task:x'],
    ]);
    const outputs = db
      .select(OUTPUT_COLUMNS)
      .from(tasks)
      .where(eq(tasks.workflowId, 'wf-full'))
      .orderBy(tasks.position)
      .all();
    expect(taskRepository.listOutputs('wf-full', ['a', 'b'])).toStrictEqual(outputs);
    expect(taskRepository.listOutputs('wf-full', ['b'])).toStrictEqual([outputs[1]]);
    expect(outputs.map((t) => t.output)).toEqual([null, 'out']);

    const workflowRepository = new WorkflowsRepository(db);
    for (const id of ['wf-full', 'wf-bare']) {
      const brief = db.select(BRIEF_COLUMNS).from(workflows).where(eq(workflows.id, id)).get();
      expect(workflowRepository.findBrief(id)).toStrictEqual(brief);
    }
    expect(workflowRepository.findBrief('missing')).toBeUndefined();
  });
});

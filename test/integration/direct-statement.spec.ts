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
import { insertEventQuery } from '../../src/modules/workflows/workflows.repository';
import { workflows } from '../../src/modules/workflows/workflows.table';
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
});

import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { EVENT_TYPES } from './workflow-event-types';
import { workflows } from './workflows.table';

export { EVENT_TYPES, TERMINAL_EVENT_TYPES, type EventType } from './workflow-event-types';

export const workflowEvents = sqliteTable(
  'workflow_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    workflowId: text('workflow_id')
      .notNull()
      .references(() => workflows.id, { onDelete: 'cascade' }),
    taskId: text('task_id'),
    type: text('type', { enum: EVENT_TYPES }).notNull(),
    message: text('message').notNull(),
    data: text('data', { mode: 'json' }).$type<Record<string, unknown>>(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [index('workflow_events_workflow_id_idx').on(t.workflowId, t.id)],
);

export type WorkflowEventRow = typeof workflowEvents.$inferSelect;
export type NewWorkflowEventRow = typeof workflowEvents.$inferInsert;

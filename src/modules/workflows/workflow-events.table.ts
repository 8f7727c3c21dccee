import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { workflows } from './workflows.table';

export const EVENT_TYPES = [
  'workflow.created',
  'workflow.planning',
  'workflow.planned',
  'workflow.awaiting_approval',
  'workflow.approved',
  'workflow.rejected',
  'workflow.started',
  'task.queued',
  'task.started',
  'task.retrying',
  'task.completed',
  'task.failed',
  'task.cancelled',
  'workflow.completed',
  'workflow.failed',
  'workflow.cancelled',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const TERMINAL_EVENT_TYPES: readonly EventType[] = [
  'workflow.completed',
  'workflow.failed',
  'workflow.cancelled',
];

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

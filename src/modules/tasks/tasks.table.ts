import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { ErrorBody } from '../workflows/workflow.types';
import { TASK_STATUSES } from '../workflows/workflow-status';
import { workflows } from '../workflows/workflows.table';

export const tasks = sqliteTable(
  'tasks',
  {
    id: text('id').primaryKey(),
    workflowId: text('workflow_id')
      .notNull()
      .references(() => workflows.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    position: integer('position').notNull(),
    title: text('title').notNull(),
    agentType: text('agent_type').notNull(),
    input: text('input').notNull(),
    output: text('output'),
    status: text('status', { enum: TASK_STATUSES }).notNull().default('pending'),
    dependsOn: text('depends_on', { mode: 'json' }).$type<string[]>().notNull(),
    attempts: integer('attempts').notNull().default(0),
    /** Identifies the current run; only that run may store the result (a stale delivery cannot). */
    runId: text('run_id'),
    /**
     * The job (its catalogue id, `task:<id>` of the step whose job it is) that runs this queued
     * step itself right after its own work, instead of a job of the step's own (JOB_CHAIN_STEPS).
     * Null when the step has, or gets, a job of its own. Kept once the step is finished.
     */
    carriedBy: text('carried_by'),
    error: text('error', { mode: 'json' }).$type<ErrorBody>(),
    createdAt: text('created_at').notNull(),
    startedAt: text('started_at'),
    finishedAt: text('finished_at'),
  },
  (t) => [
    uniqueIndex('tasks_workflow_key_uq').on(t.workflowId, t.key),
    index('tasks_workflow_position_idx').on(t.workflowId, t.position),
    index('tasks_agent_type_id_idx').on(t.agentType, t.id),
  ],
);

export type TaskRow = typeof tasks.$inferSelect;
export type NewTaskRow = typeof tasks.$inferInsert;

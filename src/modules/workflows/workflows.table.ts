import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import type { ErrorBody, Plan, WorkflowResult } from './workflow.types';
import { WORKFLOW_STATUSES } from './workflow-status';

export const workflows = sqliteTable(
  'workflows',
  {
    id: text('id').primaryKey(),
    userRequest: text('user_request').notNull(),
    status: text('status', { enum: WORKFLOW_STATUSES }).notNull().default('pending'),
    plan: text('plan', { mode: 'json' }).$type<Plan>(),
    result: text('result', { mode: 'json' }).$type<WorkflowResult>(),
    error: text('error', { mode: 'json' }).$type<ErrorBody>(),
    requireApproval: integer('require_approval', { mode: 'boolean' }).notNull().default(false),
    allowedAgents: text('allowed_agents', { mode: 'json' }).$type<string[]>(),
    metadata: text('metadata', { mode: 'json' }).$type<Record<string, unknown>>(),
    idempotencyKey: text('idempotency_key').unique(),
    requestHash: text('request_hash'),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
    startedAt: text('started_at'),
    finishedAt: text('finished_at'),
  },
  (t) => [index('workflows_status_id_idx').on(t.status, t.id)],
);

export type WorkflowRow = typeof workflows.$inferSelect;
export type NewWorkflowRow = typeof workflows.$inferInsert;

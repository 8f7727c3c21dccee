import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { workflows } from '../workflows/workflows.table';

export const LLM_CALL_STATUSES = ['ok', 'error'] as const;

export const llmCalls = sqliteTable(
  'llm_calls',
  {
    id: text('id').primaryKey(),
    workflowId: text('workflow_id')
      .notNull()
      .references(() => workflows.id, { onDelete: 'cascade' }),
    taskId: text('task_id'),
    agentType: text('agent_type').notNull(),
    purpose: text('purpose').notNull(),
    provider: text('provider').notNull(),
    model: text('model').notNull(),
    inputTokens: integer('input_tokens').notNull().default(0),
    outputTokens: integer('output_tokens').notNull().default(0),
    latencyMs: integer('latency_ms').notNull(),
    status: text('status', { enum: LLM_CALL_STATUSES }).notNull(),
    error: text('error'),
    createdAt: text('created_at').notNull(),
  },
  (t) => [
    index('llm_calls_workflow_id_idx').on(t.workflowId),
    index('llm_calls_task_id_idx').on(t.taskId),
  ],
);

export type LlmCallRow = typeof llmCalls.$inferSelect;
export type NewLlmCallRow = typeof llmCalls.$inferInsert;

import { AGENT_STATUSES } from './agent-status';
import { integer, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

export const agents = sqliteTable('agents', {
  id: text('id').primaryKey(),
  type: text('type').notNull().unique(),
  name: text('name').notNull(),
  version: integer('version').notNull().default(1),
  status: text('status', { enum: AGENT_STATUSES }).notNull().default('active'),
  description: text('description').notNull().default(''),
  systemPrompt: text('system_prompt').notNull(),
  model: text('model'),
  temperature: real('temperature'),
  maxOutputTokens: integer('max_output_tokens'),
  createdAt: text('created_at').notNull(),
  updatedAt: text('updated_at').notNull(),
});

export type AgentRow = typeof agents.$inferSelect;
export type NewAgentRow = typeof agents.$inferInsert;

export { AGENT_STATUSES, type AgentStatus } from './agent-status';

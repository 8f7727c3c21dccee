/** Every table of the platform, for the typed Drizzle database and drizzle-kit. */
export { agents } from '../agents/agents.table';
export { llmCalls } from '../llm/llm-calls.table';
export { tasks } from '../tasks/tasks.table';
export { workflowEvents } from '../workflows/workflow-events.table';
export { workflows } from '../workflows/workflows.table';
export { apiKeys } from '../access/api-keys.table';

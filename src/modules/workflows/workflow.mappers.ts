import type { TaskRow } from '../tasks/tasks.table';
import type { Task, Workflow, WorkflowEvent } from './workflows.contract';
import type { WorkflowEventRow } from './workflow-events.table';
import type { Usage } from './workflow.types';
import type { WorkflowRow } from './workflows.table';

export const NO_USAGE: Usage = { llmCalls: 0, inputTokens: 0, outputTokens: 0 };

export function toWorkflow(row: WorkflowRow, usage: Usage): Workflow {
  return {
    id: row.id,
    request: row.userRequest,
    status: row.status,
    requireApproval: row.requireApproval,
    plan: row.plan,
    result: row.result,
    error: row.error,
    metadata: row.metadata,
    usage,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  };
}

export function toTask(row: TaskRow, usage: Usage): Task {
  return {
    id: row.id,
    workflowId: row.workflowId,
    key: row.key,
    title: row.title,
    agentType: row.agentType,
    input: row.input,
    output: row.output,
    status: row.status,
    dependsOn: row.dependsOn,
    attempts: row.attempts,
    error: row.error,
    usage,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  };
}

export function toEvent(row: WorkflowEventRow): WorkflowEvent {
  return {
    id: row.id,
    workflowId: row.workflowId,
    taskId: row.taskId,
    type: row.type,
    message: row.message,
    data: row.data,
    createdAt: row.createdAt,
  };
}

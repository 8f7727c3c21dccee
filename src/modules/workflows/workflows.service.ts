import { Injectable } from '@nestjs/common';
import { DomainError } from '../../common/domain-error';
import { decodeCursor, toPage, type Page } from '../../common/pagination';
import { LlmCallsRepository } from '../llm/llm-calls.repository';
import { TasksRepository } from '../tasks/tasks.repository';
import { NO_USAGE, toEvent, toTask, toWorkflow } from './workflow.mappers';
import type {
  ListEventsQuery,
  ListWorkflowsQuery,
  Task,
  Workflow,
  WorkflowDetail,
  WorkflowEvent,
} from './workflows.contract';
import { WorkflowsRepository } from './workflows.repository';
import type { WorkflowRow } from './workflows.table';

/** The read side of workflows: what the API and the CLI show. */
@Injectable()
export class WorkflowsService {
  constructor(
    private readonly workflows: WorkflowsRepository,
    private readonly tasks: TasksRepository,
    private readonly llmCalls: LlmCallsRepository,
  ) {}

  getRow(id: string): WorkflowRow {
    const row = this.workflows.findById(id);
    if (row === undefined) throw DomainError.notFound('Workflow', id);
    return row;
  }

  get(id: string): Workflow {
    const row = this.getRow(id);
    return toWorkflow(row, this.llmCalls.usageByWorkflow(id).total);
  }

  getDetail(id: string): WorkflowDetail {
    const row = this.getRow(id);
    const usage = this.llmCalls.usageByWorkflow(id);
    const tasks = this.tasks
      .listByWorkflow(id)
      .map((task) => toTask(task, usage.byTask.get(task.id) ?? NO_USAGE));
    // The workflow's own object with its tasks added (no copy of it: this answers every GET).
    return Object.assign(toWorkflow(row, usage.total), { tasks });
  }

  list(query: ListWorkflowsQuery): Page<Workflow> {
    const rows = this.workflows.list({
      status: query.status,
      beforeId: decodeCursor(query.cursor),
      limit: query.limit + 1,
    });
    const usage = this.llmCalls.usageTotalsByWorkflows(rows.slice(0, query.limit).map((r) => r.id));
    return toPage(
      rows,
      query.limit,
      (row) => toWorkflow(row, usage.get(row.id) ?? NO_USAGE),
      (row) => row.id,
    );
  }

  listTasks(id: string): Page<Task> {
    this.getRow(id);
    const usage = this.llmCalls.usageByWorkflow(id);
    return {
      items: this.tasks
        .listByWorkflow(id)
        .map((task) => toTask(task, usage.byTask.get(task.id) ?? NO_USAGE)),
      nextCursor: null,
    };
  }

  listEvents(id: string, query: ListEventsQuery): Page<WorkflowEvent> {
    this.getRow(id);
    const rows = this.workflows.listEvents(id, query.after ?? 0, query.limit + 1);
    const hasMore = rows.length > query.limit;
    const items = (hasMore ? rows.slice(0, query.limit) : rows).map(toEvent);
    const last = items[items.length - 1];
    return { items, nextCursor: hasMore && last !== undefined ? String(last.id) : null };
  }

  /** Events after `after`, for the live stream. */
  eventsAfter(id: string, after: number, limit = 500): WorkflowEvent[] {
    return this.workflows.listEvents(id, after, limit).map(toEvent);
  }
}

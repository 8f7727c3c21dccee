import { Injectable } from '@nestjs/common';
import { DomainError } from '../../common/domain-error';
import { decodeCursor, toPage, type Page } from '../../common/pagination';
import { AgentsService } from '../agents/agents.service';
import { LlmCallsRepository } from '../llm/llm-calls.repository';
import { toTask } from '../workflows/workflow.mappers';
import type { ListTasksQuery, Task } from '../workflows/workflows.contract';
import { TasksRepository } from './tasks.repository';

/** The read side of tasks: one task, and an agent's history (newest first). */
@Injectable()
export class TasksService {
  constructor(
    private readonly tasks: TasksRepository,
    private readonly llmCalls: LlmCallsRepository,
    private readonly agents: AgentsService,
  ) {}

  get(id: string): Task {
    const row = this.tasks.findById(id);
    if (row === undefined) throw DomainError.notFound('Task', id);
    return toTask(row, this.llmCalls.usageByTask(id));
  }

  listByAgent(agentType: string, query: ListTasksQuery): Page<Task> {
    this.agents.getRow(agentType);
    const rows = this.tasks.listByAgentType({
      agentType,
      status: query.status,
      beforeId: decodeCursor(query.cursor),
      limit: query.limit + 1,
    });
    return toPage(
      rows,
      query.limit,
      (row) => toTask(row, this.llmCalls.usageByTask(row.id)),
      (row) => row.id,
    );
  }
}

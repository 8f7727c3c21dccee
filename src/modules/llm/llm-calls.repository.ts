import { Inject, Injectable } from '@nestjs/common';
import { asc, count, eq, inArray, sql } from 'drizzle-orm';
import { DRIZZLE, type Db } from '../database/database.tokens';
import { DirectStatement } from '../database/direct-statement';
import type { Usage } from '../workflows/workflow.types';
import { llmCalls, type LlmCallRow, type NewLlmCallRow } from './llm-calls.table';

/** Model usage of a workflow: everything (planning and finalizing included) and per task. */
export interface WorkflowUsage {
  total: Usage;
  /** Usage per task id; calls without a task (planning, safety, summary) count only in `total`. */
  byTask: Map<string, Usage>;
}

export const ZERO_USAGE: Readonly<Usage> = Object.freeze({
  llmCalls: 0,
  inputTokens: 0,
  outputTokens: 0,
});

/** The only place that reads and writes the `llm_calls` table. */
@Injectable()
export class LlmCallsRepository {
  private readonly insertCall;
  private readonly workflowUsage;
  private readonly taskUsage;
  private readonly byWorkflow;

  constructor(@Inject(DRIZZLE) private readonly db: Db) {
    this.insertCall = new DirectStatement(
      db,
      db.insert(llmCalls).values({
        id: sql.placeholder('id'),
        workflowId: sql.placeholder('workflowId'),
        taskId: sql.placeholder('taskId'),
        agentType: sql.placeholder('agentType'),
        purpose: sql.placeholder('purpose'),
        provider: sql.placeholder('provider'),
        model: sql.placeholder('model'),
        inputTokens: sql.placeholder('inputTokens'),
        outputTokens: sql.placeholder('outputTokens'),
        latencyMs: sql.placeholder('latencyMs'),
        status: sql.placeholder('status'),
        error: sql.placeholder('error'),
        createdAt: sql.placeholder('createdAt'),
      }),
    );
    const totals = {
      llmCalls: count(),
      inputTokens: sql<number>`coalesce(sum(${llmCalls.inputTokens}), 0)`.mapWith(Number),
      outputTokens: sql<number>`coalesce(sum(${llmCalls.outputTokens}), 0)`.mapWith(Number),
    };
    this.workflowUsage = db
      .select({ taskId: llmCalls.taskId, ...totals })
      .from(llmCalls)
      .where(eq(llmCalls.workflowId, sql.placeholder('workflowId')))
      .groupBy(llmCalls.taskId)
      .prepare();
    this.taskUsage = db
      .select(totals)
      .from(llmCalls)
      .where(eq(llmCalls.taskId, sql.placeholder('taskId')))
      .prepare();
    this.byWorkflow = db
      .select()
      .from(llmCalls)
      .where(eq(llmCalls.workflowId, sql.placeholder('workflowId')))
      .orderBy(asc(llmCalls.id))
      .prepare();
  }

  insert(row: NewLlmCallRow): void {
    this.insertCall.run({
      id: row.id,
      workflowId: row.workflowId,
      taskId: row.taskId ?? null,
      agentType: row.agentType,
      purpose: row.purpose,
      provider: row.provider,
      model: row.model,
      inputTokens: row.inputTokens ?? 0,
      outputTokens: row.outputTokens ?? 0,
      latencyMs: row.latencyMs,
      status: row.status,
      error: row.error ?? null,
      createdAt: row.createdAt,
    });
  }

  /** Totals of a workflow and per task, from one grouped query. */
  usageByWorkflow(workflowId: string): WorkflowUsage {
    const total: Usage = { llmCalls: 0, inputTokens: 0, outputTokens: 0 };
    const byTask = new Map<string, Usage>();
    for (const row of this.workflowUsage.all({ workflowId })) {
      const usage: Usage = {
        llmCalls: row.llmCalls,
        inputTokens: row.inputTokens,
        outputTokens: row.outputTokens,
      };
      total.llmCalls += usage.llmCalls;
      total.inputTokens += usage.inputTokens;
      total.outputTokens += usage.outputTokens;
      if (row.taskId !== null) byTask.set(row.taskId, usage);
    }
    return { total, byTask };
  }

  /** Totals of several workflows in one query (for lists); absent ids have zero usage. */
  usageTotalsByWorkflows(workflowIds: readonly string[]): Map<string, Usage> {
    const result = new Map<string, Usage>(workflowIds.map((id) => [id, { ...ZERO_USAGE }]));
    if (workflowIds.length === 0) return result;
    const rows = this.db
      .select({
        workflowId: llmCalls.workflowId,
        llmCalls: count(),
        inputTokens: sql<number>`coalesce(sum(${llmCalls.inputTokens}), 0)`.mapWith(Number),
        outputTokens: sql<number>`coalesce(sum(${llmCalls.outputTokens}), 0)`.mapWith(Number),
      })
      .from(llmCalls)
      .where(inArray(llmCalls.workflowId, [...workflowIds]))
      .groupBy(llmCalls.workflowId)
      .all();
    for (const { workflowId, ...usage } of rows) result.set(workflowId, usage);
    return result;
  }

  usageByTask(taskId: string): Usage {
    const row = this.taskUsage.get({ taskId });
    return row === undefined
      ? { ...ZERO_USAGE }
      : { llmCalls: row.llmCalls, inputTokens: row.inputTokens, outputTokens: row.outputTokens };
  }

  /** Every call of a workflow, oldest first. */
  listByWorkflow(workflowId: string): LlmCallRow[] {
    return this.byWorkflow.all({ workflowId });
  }
}

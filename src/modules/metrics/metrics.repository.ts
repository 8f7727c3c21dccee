import { Inject, Injectable } from '@nestjs/common';
import { count, sql } from 'drizzle-orm';
import { z } from 'zod';
import { DRIZZLE, type Db } from '../database/database.tokens';
import { llmCalls } from '../llm/llm-calls.table';
import { tasks } from '../tasks/tasks.table';
import type { TaskStatus, WorkflowStatus } from '../workflows/workflow-status';
import { workflows } from '../workflows/workflows.table';

export interface WorkflowStatusCount {
  status: WorkflowStatus;
  count: number;
}

export interface TaskStatusCount {
  agentType: string;
  status: TaskStatus;
  count: number;
}

/** Completed tasks of one agent type whose duration fell into bucket `bucket` (not cumulative). */
export interface TaskDurationBucket {
  agentType: string;
  /** Index into the bucket bounds; `bounds.length` means "above the last bound" (+Inf). */
  bucket: number;
  count: number;
  /** Sum of the durations in seconds. */
  sumSeconds: number;
}

export interface LlmCallTotals {
  provider: string;
  model: string;
  status: 'ok' | 'error';
  calls: number;
  inputTokens: number;
  outputTokens: number;
}

const durationRowsSchema = z.array(
  z.object({
    agentType: z.string(),
    bucket: z.number(),
    count: z.number(),
    sumSeconds: z.number(),
  }),
);

/**
 * Read-only aggregates for /metrics: a few GROUP BY queries over the tables every process
 * (API and separate workers alike) writes to, so a scrape of any API process counts the work of
 * all of them.
 *
 * Indexes: `workflows_status_id_idx` covers the workflow count; the task, duration and LLM-call
 * aggregates scan their tables. Tasks have no index on their status: every step changes it three
 * times, and nearly every stored task is completed, so it would hardly narrow the duration
 * query. An index on `tasks(agent_type, status)` and one on `llm_calls(provider, model, status,
 * input_tokens, output_tokens)` would make the aggregates index-only scans on large databases.
 */
@Injectable()
export class MetricsRepository {
  private readonly workflowCounts;
  private readonly taskCounts;
  private readonly llmTotals;

  constructor(@Inject(DRIZZLE) private readonly db: Db) {
    this.workflowCounts = db
      .select({ status: workflows.status, count: count() })
      .from(workflows)
      .groupBy(workflows.status)
      .prepare();
    this.taskCounts = db
      .select({ agentType: tasks.agentType, status: tasks.status, count: count() })
      .from(tasks)
      .groupBy(tasks.agentType, tasks.status)
      .prepare();
    this.llmTotals = db
      .select({
        provider: llmCalls.provider,
        model: llmCalls.model,
        status: llmCalls.status,
        calls: count(),
        inputTokens: sql<number>`coalesce(sum(${llmCalls.inputTokens}), 0)`.mapWith(Number),
        outputTokens: sql<number>`coalesce(sum(${llmCalls.outputTokens}), 0)`.mapWith(Number),
      })
      .from(llmCalls)
      .groupBy(llmCalls.provider, llmCalls.model, llmCalls.status)
      .prepare();
  }

  /** Number of workflows in each status (statuses with none are absent). */
  countWorkflowsByStatus(): WorkflowStatusCount[] {
    return this.workflowCounts.all();
  }

  /** Number of tasks per agent type and status. */
  countTasksByAgentAndStatus(): TaskStatusCount[] {
    return this.taskCounts.all();
  }

  /**
   * Completed tasks' durations (`finished_at - started_at` of their last run, in seconds)
   * bucketed in SQL against ascending `bounds`: one row per agent type and non-empty bucket.
   */
  taskDurationBuckets(bounds: readonly number[]): TaskDurationBucket[] {
    const buckets = sql.join(
      bounds.map((bound, index) => sql`WHEN seconds <= ${bound} THEN ${index}`),
      sql` `,
    );
    // MATERIALIZED: each duration is computed once; a flattened subquery would evaluate the
    // julianday() expression again in every WHEN of the CASE (about twice as slow).
    const rows = this.db.all(sql`
      WITH durations AS MATERIALIZED (
        SELECT ${tasks.agentType} AS agent_type,
               max(0.0, (julianday(${tasks.finishedAt}) - julianday(${tasks.startedAt})) * 86400.0)
                 AS seconds
        FROM ${tasks}
        WHERE ${tasks.status} = 'completed'
          AND ${tasks.startedAt} IS NOT NULL
          AND ${tasks.finishedAt} IS NOT NULL
      )
      SELECT agent_type AS agentType,
             CASE ${buckets} ELSE ${bounds.length} END AS bucket,
             count(*) AS count,
             total(seconds) AS sumSeconds
      FROM durations
      GROUP BY agent_type, bucket`);
    return durationRowsSchema.parse(rows);
  }

  /** Model calls and their token sums per provider, model and outcome. */
  llmCallTotals(): LlmCallTotals[] {
    return this.llmTotals.all();
  }
}

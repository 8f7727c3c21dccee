import { Inject, Injectable } from '@nestjs/common';
import { and, asc, desc, eq, gt, inArray, lt, sql } from 'drizzle-orm';
import { DRIZZLE, type Db } from '../database/database.tokens';
import {
  workflowEvents,
  type NewWorkflowEventRow,
  type WorkflowEventRow,
} from './workflow-events.table';
import { workflowFrom, type WorkflowStatus } from './workflow-status';
import { workflows, type NewWorkflowRow, type WorkflowRow } from './workflows.table';

export type WorkflowPatch = Partial<
  Pick<NewWorkflowRow, 'plan' | 'result' | 'error' | 'startedAt' | 'finishedAt'>
>;

/** The only place that reads and writes `workflows` and `workflow_events`. */
@Injectable()
export class WorkflowsRepository {
  private readonly byId;
  private readonly byIdempotencyKey;
  private readonly eventsAfter;
  private readonly insertEventStmt;

  constructor(@Inject(DRIZZLE) private readonly db: Db) {
    this.byId = db
      .select()
      .from(workflows)
      .where(eq(workflows.id, sql.placeholder('id')))
      .prepare();
    this.byIdempotencyKey = db
      .select()
      .from(workflows)
      .where(eq(workflows.idempotencyKey, sql.placeholder('key')))
      .prepare();
    this.eventsAfter = db
      .select()
      .from(workflowEvents)
      .where(
        and(
          eq(workflowEvents.workflowId, sql.placeholder('workflowId')),
          gt(workflowEvents.id, sql.placeholder('after')),
        ),
      )
      .orderBy(asc(workflowEvents.id))
      .limit(sql.placeholder('limit'))
      .prepare();
    this.insertEventStmt = db
      .insert(workflowEvents)
      .values({
        workflowId: sql.placeholder('workflowId'),
        taskId: sql.placeholder('taskId'),
        type: sql.placeholder('type'),
        message: sql.placeholder('message'),
        data: sql.placeholder('data'),
        createdAt: sql.placeholder('createdAt'),
      })
      .prepare();
  }

  findById(id: string): WorkflowRow | undefined {
    return this.byId.get({ id });
  }

  findByIdempotencyKey(key: string): WorkflowRow | undefined {
    return this.byIdempotencyKey.get({ key });
  }

  /** Inserts the workflow; false when its idempotency key is taken already. */
  insert(row: NewWorkflowRow): boolean {
    return (
      this.db
        .insert(workflows)
        .values(row)
        .onConflictDoNothing({ target: workflows.idempotencyKey })
        .run().changes === 1
    );
  }

  /** Newest first (UUIDv7 ids are time-ordered). */
  list(options: { status?: WorkflowStatus; beforeId?: string; limit: number }): WorkflowRow[] {
    return this.db
      .select()
      .from(workflows)
      .where(
        and(
          options.status === undefined ? undefined : eq(workflows.status, options.status),
          options.beforeId === undefined ? undefined : lt(workflows.id, options.beforeId),
        ),
      )
      .orderBy(desc(workflows.id))
      .limit(options.limit)
      .all();
  }

  /** Non-terminal workflows, for the reconciler. */
  listUnfinished(): WorkflowRow[] {
    return this.db
      .select()
      .from(workflows)
      .where(inArray(workflows.status, ['pending', 'planning', 'awaiting_approval', 'running']))
      .orderBy(asc(workflows.id))
      .all();
  }

  /**
   * Moves the workflow to `to` only if its current status allows it (and, when given, is one of
   * `onlyFrom`). Returns false when the row did not move: the caller lost a race or the action
   * is not allowed.
   */
  transition(
    id: string,
    to: WorkflowStatus,
    patch: WorkflowPatch,
    now: string,
    onlyFrom?: readonly WorkflowStatus[],
  ): boolean {
    const from = workflowFrom(to).filter((s) => onlyFrom === undefined || onlyFrom.includes(s));
    if (from.length === 0) return false;
    const result = this.db
      .update(workflows)
      .set({ ...patch, status: to, updatedAt: now })
      .where(and(eq(workflows.id, id), inArray(workflows.status, from)))
      .run();
    return result.changes === 1;
  }

  insertEvent(event: Omit<NewWorkflowEventRow, 'id'>): void {
    this.insertEventStmt.run({
      workflowId: event.workflowId,
      taskId: event.taskId ?? null,
      type: event.type,
      message: event.message,
      data: event.data ?? null,
      createdAt: event.createdAt,
    });
  }

  listEvents(workflowId: string, after: number, limit: number): WorkflowEventRow[] {
    return this.eventsAfter.all({ workflowId, after, limit });
  }
}

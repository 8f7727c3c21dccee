import { Inject, Injectable } from '@nestjs/common';
import { and, asc, desc, eq, gt, inArray, lt, sql, type SQL } from 'drizzle-orm';
import { DRIZZLE, type Db } from '../database/database.tokens';
import { DirectStatement } from '../database/direct-statement';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import { RowMapper } from '../database/row-mapper';
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

export type WorkflowBrief = Pick<WorkflowRow, 'id' | 'status' | 'userRequest'>;

/** The columns of `WorkflowBrief`, as `findBrief` selects them. */
export const BRIEF_COLUMNS = {
  id: workflows.id,
  status: workflows.status,
  userRequest: workflows.userRequest,
} satisfies Record<keyof WorkflowBrief, SQLiteColumn>;

const PATCH_FIELDS = ['plan', 'result', 'error', 'startedAt', 'finishedAt'] as const;
type PatchField = (typeof PATCH_FIELDS)[number];

/** A JSON column's value as stored (what drizzle's json mode writes). */
function toJson(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

/** The conditional update of `transition`, for one target status, source statuses and fields. */
function prepareTransition(
  db: Db,
  to: WorkflowStatus,
  from: readonly WorkflowStatus[],
  fields: readonly PatchField[],
): DirectStatement {
  const set: Partial<Record<PatchField, SQL>> = {};
  for (const field of fields) set[field] = sql`${sql.placeholder(field)}`;
  const update = db
    .update(workflows)
    .set({ ...set, status: to, updatedAt: sql`${sql.placeholder('now')}` })
    .where(and(eq(workflows.id, sql.placeholder('id')), inArray(workflows.status, [...from])));
  return new DirectStatement(db, update);
}

/** The insert of one event, its values by placeholder (`insertEvent`). */
export function insertEventQuery(db: Db) {
  return db.insert(workflowEvents).values({
    workflowId: sql.placeholder('workflowId'),
    taskId: sql.placeholder('taskId'),
    type: sql.placeholder('type'),
    message: sql.placeholder('message'),
    data: sql.placeholder('data'),
    createdAt: sql.placeholder('createdAt'),
  });
}

/** The only place that reads and writes `workflows` and `workflow_events`. */
@Injectable()
export class WorkflowsRepository {
  private readonly transitions = new Map<string, DirectStatement>();
  private readonly rows = RowMapper.of(workflows);
  private readonly briefs = RowMapper.ofSelection(BRIEF_COLUMNS);
  private readonly byId;
  private readonly briefById;
  private readonly byIdempotencyKey;
  private readonly eventsAfter;
  private readonly insertEventStmt;
  private readonly insertStmt;

  constructor(@Inject(DRIZZLE) private readonly db: Db) {
    this.byId = new DirectStatement(
      db,
      db
        .select()
        .from(workflows)
        .where(eq(workflows.id, sql.placeholder('id'))),
    );
    this.briefById = new DirectStatement(
      db,
      db
        .select(BRIEF_COLUMNS)
        .from(workflows)
        .where(eq(workflows.id, sql.placeholder('id'))),
    );
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
    this.insertEventStmt = new DirectStatement(db, insertEventQuery(db));
    const json = (name: string) => sql`${sql.placeholder(name)}`;
    const insert = db
      .insert(workflows)
      .values({
        id: sql.placeholder('id'),
        userRequest: sql.placeholder('userRequest'),
        status: sql.placeholder('status'),
        plan: json('plan'),
        result: json('result'),
        error: json('error'),
        requireApproval: sql.placeholder('requireApproval'),
        allowedAgents: json('allowedAgents'),
        metadata: json('metadata'),
        idempotencyKey: sql.placeholder('idempotencyKey'),
        requestHash: sql.placeholder('requestHash'),
        createdAt: sql.placeholder('createdAt'),
        updatedAt: sql.placeholder('updatedAt'),
        startedAt: sql.placeholder('startedAt'),
        finishedAt: sql.placeholder('finishedAt'),
      })
      .onConflictDoNothing({ target: workflows.idempotencyKey });
    this.insertStmt = new DirectStatement(db, insert);
  }

  findById(id: string): WorkflowRow | undefined {
    return this.rows.one(this.byId.rows({ id }));
  }

  /** Status and request only (a step needs no more, and the plan and result are large JSON). */
  findBrief(id: string): WorkflowBrief | undefined {
    return this.briefs.one(this.briefById.rows({ id }));
  }

  findByIdempotencyKey(key: string): WorkflowRow | undefined {
    return this.byIdempotencyKey.get({ key });
  }

  /** Inserts the workflow; false when its idempotency key is taken already. */
  insert(row: NewWorkflowRow): boolean {
    return (
      this.insertStmt.run({
        id: row.id,
        userRequest: row.userRequest,
        status: row.status ?? 'pending',
        plan: toJson(row.plan),
        result: toJson(row.result),
        error: toJson(row.error),
        requireApproval: row.requireApproval ?? false,
        allowedAgents: toJson(row.allowedAgents),
        metadata: toJson(row.metadata),
        idempotencyKey: row.idempotencyKey ?? null,
        requestHash: row.requestHash ?? null,
        createdAt: row.createdAt,
        updatedAt: row.updatedAt,
        startedAt: row.startedAt ?? null,
        finishedAt: row.finishedAt ?? null,
      }).changes === 1
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
    const fields = PATCH_FIELDS.filter((f) => patch[f] !== undefined);
    const key = `${to}:${from.join(',')}:${fields.join(',')}`;
    let statement = this.transitions.get(key);
    if (statement === undefined) {
      statement = prepareTransition(this.db, to, from, fields);
      this.transitions.set(key, statement);
    }
    return (
      statement.run({
        id,
        now,
        plan: toJson(patch.plan),
        result: toJson(patch.result),
        error: toJson(patch.error),
        startedAt: patch.startedAt ?? null,
        finishedAt: patch.finishedAt ?? null,
      }).changes === 1
    );
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

import { Inject, Injectable } from '@nestjs/common';
import { and, asc, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import { DRIZZLE, type Db } from '../database/database.tokens';
import { DirectStatement } from '../database/direct-statement';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import { RowMapper } from '../database/row-mapper';
import type { ErrorBody } from '../workflows/workflow.types';
import { taskFrom, type TaskStatus } from '../workflows/workflow-status';
import { tasks, type NewTaskRow, type TaskRow } from './tasks.table';

const TRANSITION_FIELDS = ['error', 'finishedAt', 'attemptsDelta', 'runId', 'carriedBy'] as const;
type TransitionField = (typeof TRANSITION_FIELDS)[number];

/** The conditional update of `transition`, for one target status and set of patched fields. */
function prepareTransition(
  db: Db,
  to: TaskStatus,
  fields: Readonly<Record<TransitionField, boolean>>,
): DirectStatement {
  const update = db
    .update(tasks)
    .set({
      status: to,
      ...(fields.error ? { error: sql`${sql.placeholder('error')}` } : {}),
      ...(fields.finishedAt ? { finishedAt: sql`${sql.placeholder('finishedAt')}` } : {}),
      ...(fields.carriedBy ? { carriedBy: sql`${sql.placeholder('carriedBy')}` } : {}),
      ...(fields.attemptsDelta
        ? { attempts: sql`max(0, ${tasks.attempts} + ${sql.placeholder('attemptsDelta')})` }
        : {}),
    })
    .where(
      and(
        eq(tasks.id, sql.placeholder('id')),
        inArray(tasks.status, taskFrom(to)),
        fields.runId ? eq(tasks.runId, sql.placeholder('runId')) : undefined,
      ),
    );
  return new DirectStatement(db, update);
}

/** What scheduling needs of a task (not its input or output texts). */
export type TaskState = Pick<
  TaskRow,
  'id' | 'key' | 'title' | 'agentType' | 'status' | 'dependsOn' | 'carriedBy'
>;

/** A step's result as the steps after it see it. */
export type TaskOutput = Pick<TaskRow, 'key' | 'title' | 'agentType' | 'output'>;

/** The columns of `TaskState`, as `listStatesByWorkflow` selects them. */
export const STATE_COLUMNS = {
  id: tasks.id,
  key: tasks.key,
  title: tasks.title,
  agentType: tasks.agentType,
  status: tasks.status,
  dependsOn: tasks.dependsOn,
  carriedBy: tasks.carriedBy,
} satisfies Record<keyof TaskState, SQLiteColumn>;

/** The columns of `TaskOutput`, as `listOutputs` selects them. */
export const OUTPUT_COLUMNS = {
  key: tasks.key,
  title: tasks.title,
  agentType: tasks.agentType,
  output: tasks.output,
} satisfies Record<keyof TaskOutput, SQLiteColumn>;

/** The columns a planned task is inserted with; the rest take their defaults. */
export type NewPlannedTask = Pick<
  NewTaskRow,
  | 'id'
  | 'workflowId'
  | 'key'
  | 'position'
  | 'title'
  | 'agentType'
  | 'input'
  | 'dependsOn'
  | 'createdAt'
> & { status?: 'pending' };

/** The only place that reads and writes the `tasks` table. */
@Injectable()
export class TasksRepository {
  private readonly byId;
  private readonly byWorkflow;
  private readonly statesByWorkflow;
  private readonly outputsByKeys;
  private readonly claimStmt;
  private readonly completeStmt;
  private readonly claimAndCompleteStmt;
  private readonly insertStmt;
  private readonly transitions = new Map<string, DirectStatement>();
  private readonly rows = RowMapper.of(tasks);
  private readonly states = RowMapper.ofSelection(STATE_COLUMNS);
  private readonly outputs = RowMapper.ofSelection(OUTPUT_COLUMNS);

  constructor(@Inject(DRIZZLE) private readonly db: Db) {
    this.byId = new DirectStatement(
      db,
      db
        .select()
        .from(tasks)
        .where(eq(tasks.id, sql.placeholder('id'))),
    );
    this.byWorkflow = new DirectStatement(
      db,
      db
        .select()
        .from(tasks)
        .where(eq(tasks.workflowId, sql.placeholder('workflowId')))
        .orderBy(asc(tasks.position)),
    );
    this.statesByWorkflow = new DirectStatement(
      db,
      db
        .select(STATE_COLUMNS)
        .from(tasks)
        .where(eq(tasks.workflowId, sql.placeholder('workflowId')))
        .orderBy(asc(tasks.position)),
    );
    this.outputsByKeys = new DirectStatement(
      db,
      db
        .select(OUTPUT_COLUMNS)
        .from(tasks)
        .where(
          and(
            eq(tasks.workflowId, sql.placeholder('workflowId')),
            sql`${tasks.key} in (select value from json_each(${sql.placeholder('keys')}))`,
          ),
        )
        .orderBy(asc(tasks.position)),
    );
    // What a claim writes (the run's id, attempts + 1, its start; an earlier attempt's error goes),
    // and the tasks it may take.
    const claimed = {
      runId: sql`${sql.placeholder('runId')}`,
      attempts: sql`${tasks.attempts} + 1`,
      startedAt: sql`${sql.placeholder('startedAt')}`,
      error: null,
    };
    const claimable = and(
      eq(tasks.id, sql.placeholder('id')),
      inArray(tasks.status, taskFrom('running')),
    );
    this.claimStmt = new DirectStatement(
      db,
      db
        .update(tasks)
        .set({ status: 'running', ...claimed })
        .where(claimable),
    );
    const complete = db
      .update(tasks)
      .set({
        status: 'completed',
        output: sql`${sql.placeholder('output')}`,
        finishedAt: sql`${sql.placeholder('now')}`,
      })
      .where(
        and(
          eq(tasks.id, sql.placeholder('id')),
          eq(tasks.status, 'running'),
          eq(tasks.runId, sql.placeholder('runId')),
        ),
      );
    this.completeStmt = new DirectStatement(db, complete);
    // The claim and the completion in one statement: the row goes where the two would take it.
    const claimAndComplete = db
      .update(tasks)
      .set({
        status: 'completed',
        ...claimed,
        output: sql`${sql.placeholder('output')}`,
        finishedAt: sql`${sql.placeholder('now')}`,
      })
      .where(claimable);
    this.claimAndCompleteStmt = new DirectStatement(db, claimAndComplete);
    // JSON columns take their text as is through `sql`: placeholders skip drizzle's mapping.
    const insert = db.insert(tasks).values({
      id: sql.placeholder('id'),
      workflowId: sql.placeholder('workflowId'),
      key: sql.placeholder('key'),
      position: sql.placeholder('position'),
      title: sql.placeholder('title'),
      agentType: sql.placeholder('agentType'),
      input: sql.placeholder('input'),
      status: sql.placeholder('status'),
      dependsOn: sql`${sql.placeholder('dependsOn')}`,
      createdAt: sql.placeholder('createdAt'),
    });
    this.insertStmt = new DirectStatement(db, insert);
  }

  findById(id: string): TaskRow | undefined {
    return this.rows.one(this.byId.rows({ id }));
  }

  listByWorkflow(workflowId: string): TaskRow[] {
    return this.rows.many(this.byWorkflow.rows({ workflowId }));
  }

  /** The workflow's tasks in plan order, without their texts (cheaper on every step). */
  listStatesByWorkflow(workflowId: string): TaskState[] {
    return this.states.many(this.statesByWorkflow.rows({ workflowId }));
  }

  /** The outputs of the given steps of a workflow (what a step builds on), in plan order. */
  listOutputs(workflowId: string, keys: readonly string[]): TaskOutput[] {
    return this.outputs.many(this.outputsByKeys.rows({ workflowId, keys: JSON.stringify(keys) }));
  }

  listByAgentType(options: {
    agentType: string;
    status?: TaskStatus;
    beforeId?: string;
    limit: number;
  }): TaskRow[] {
    return this.db
      .select()
      .from(tasks)
      .where(
        and(
          eq(tasks.agentType, options.agentType),
          options.status === undefined ? undefined : eq(tasks.status, options.status),
          options.beforeId === undefined ? undefined : lt(tasks.id, options.beforeId),
        ),
      )
      .orderBy(desc(tasks.id))
      .limit(options.limit)
      .all();
  }

  /** New tasks of a plan, each `pending` unless given (one prepared insert per row). */
  insertMany(rows: readonly NewPlannedTask[]): void {
    for (const row of rows) {
      this.insertStmt.run({
        id: row.id,
        workflowId: row.workflowId,
        key: row.key,
        position: row.position,
        title: row.title,
        agentType: row.agentType,
        input: row.input,
        status: row.status ?? 'pending',
        dependsOn: JSON.stringify(row.dependsOn),
        createdAt: row.createdAt,
      });
    }
  }

  /**
   * Starts a run: a queued task (or a running one whose previous run died — the queue delivers a
   * job to one consumer at a time) becomes running under a new run id, attempts + 1.
   */
  claim(id: string, runId: string, startedAt: string): boolean {
    return this.claimStmt.run({ id, runId, startedAt }).changes === 1;
  }

  /** Stores the output only for the current run of a running task: a stale run changes nothing. */
  complete(id: string, runId: string, output: string, now: string): boolean {
    return this.completeStmt.run({ id, runId, output, now }).changes === 1;
  }

  /**
   * `claim` and `complete` at once, for a run that finished before it was recorded as started:
   * one write instead of two. The task takes the run's id, attempts + 1, its start and its
   * output, from the statuses `claim` takes it from.
   */
  claimAndComplete(
    id: string,
    run: { runId: string; startedAt: string },
    output: string,
    now: string,
  ): boolean {
    return (
      this.claimAndCompleteStmt.run({
        id,
        runId: run.runId,
        startedAt: run.startedAt,
        output,
        now,
      }).changes === 1
    );
  }

  /**
   * Moves one task to `to` when the status machine allows it from its current status; with
   * `runId`, only if that run is the current one. `patch.carriedBy` sets which job carries the
   * step (null: nobody, it gets a job of its own); without it the mark stays as it is.
   */
  transition(
    id: string,
    to: TaskStatus,
    patch: {
      error?: ErrorBody | null;
      finishedAt?: string | null;
      attemptsDelta?: number;
      carriedBy?: string | null;
    },
    runId?: string,
  ): boolean {
    const statement = this.transitionStatement(to, {
      error: patch.error !== undefined,
      finishedAt: patch.finishedAt !== undefined,
      attemptsDelta: patch.attemptsDelta !== undefined,
      runId: runId !== undefined,
      carriedBy: patch.carriedBy !== undefined,
    });
    return (
      statement.run({
        id,
        runId: runId ?? null,
        error:
          patch.error === undefined || patch.error === null ? null : JSON.stringify(patch.error),
        finishedAt: patch.finishedAt ?? null,
        attemptsDelta: patch.attemptsDelta ?? 0,
        carriedBy: patch.carriedBy ?? null,
      }).changes === 1
    );
  }

  /** One prepared statement per target status and set of patched fields (a handful in all). */
  private transitionStatement(
    to: TaskStatus,
    fields: Readonly<Record<TransitionField, boolean>>,
  ): DirectStatement {
    const key = `${to}:${TRANSITION_FIELDS.map((f) => (fields[f] ? 1 : 0)).join('')}`;
    let statement = this.transitions.get(key);
    if (statement === undefined) {
      statement = prepareTransition(this.db, to, fields);
      this.transitions.set(key, statement);
    }
    return statement;
  }

  /**
   * The unfinished step is no longer carried by `carrier` (it has a job of its own). False when
   * another carrier, or none, has it, or it is finished.
   */
  releaseCarry(id: string, carrier: string): boolean {
    return (
      this.db
        .update(tasks)
        .set({ carriedBy: null })
        .where(
          and(
            eq(tasks.id, id),
            eq(tasks.carriedBy, carrier),
            inArray(tasks.status, ['queued', 'running']),
          ),
        )
        .run().changes === 1
    );
  }

  /** Puts a failed or cancelled task back to pending for a retry of its workflow. */
  reset(id: string): boolean {
    return (
      this.db
        .update(tasks)
        .set({
          status: 'pending',
          attempts: 0,
          error: null,
          output: null,
          runId: null,
          carriedBy: null,
          startedAt: null,
          finishedAt: null,
        })
        .where(and(eq(tasks.id, id), inArray(tasks.status, ['failed', 'cancelled'])))
        .run().changes === 1
    );
  }
}

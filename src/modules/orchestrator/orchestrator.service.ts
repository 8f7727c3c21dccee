import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { createHash } from 'node:crypto';
import { DomainError, ErrorCode } from '../../common/domain-error';
import { newId, nowIso } from '../../common/ids';
import { AgentsService } from '../agents/agents.service';
import { Transactor } from '../database/transactor';
import { JobQueue } from '../queue/job-queue';
import { TasksRepository } from '../tasks/tasks.repository';
import { assertWorkflowAction, isTerminalWorkflow } from '../workflows/workflow-status';
import type { SubmitWorkflowInput, WorkflowDetail } from '../workflows/workflows.contract';
import { WorkflowsRepository } from '../workflows/workflows.repository';
import { WorkflowsService } from '../workflows/workflows.service';
import { RunningCalls } from './running-calls';
import { WorkflowEngine } from './workflow-engine.service';
import { WorkflowSignals } from './workflow-signals';

export interface SubmitResult {
  workflow: WorkflowDetail;
  /** False when an earlier submission with the same Idempotency-Key is returned. */
  created: boolean;
}

/** What users do to workflows: submit, approve, reject, cancel, retry. */
@Injectable()
export class OrchestratorService {
  constructor(
    private readonly workflows: WorkflowsRepository,
    private readonly tasks: TasksRepository,
    private readonly reader: WorkflowsService,
    private readonly agents: AgentsService,
    private readonly engine: WorkflowEngine,
    private readonly queue: JobQueue,
    private readonly tx: Transactor,
    private readonly signals: WorkflowSignals,
    private readonly calls: RunningCalls,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(OrchestratorService.name);
  }

  /** `requestId`: the HTTP request's id, put on the log lines this writes (none in the CLI). */
  async submit(
    input: SubmitWorkflowInput,
    idempotencyKey?: string,
    requestId?: string,
  ): Promise<SubmitResult> {
    const requestHash = hashSubmission(input);
    if (idempotencyKey !== undefined) {
      const existing = this.workflows.findByIdempotencyKey(idempotencyKey);
      if (existing !== undefined)
        return this.replay(existing.id, existing.requestHash, requestHash);
    }
    // Validated after the replay check: a replay answers with the stored workflow even if its
    // agents were disabled since.
    if (input.agents !== undefined) this.assertKnownAgents(input.agents);
    const id = newId();
    const store = () => {
      const now = nowIso();
      const created = this.workflows.insert({
        id,
        userRequest: input.request,
        status: 'pending',
        requireApproval: input.requireApproval,
        allowedAgents: input.agents ?? null,
        metadata: input.metadata ?? null,
        idempotencyKey: idempotencyKey ?? null,
        requestHash,
        createdAt: now,
        updatedAt: now,
      });
      if (created) {
        this.engine.event(id, 'workflow.created', 'Workflow submitted', now, {
          requireApproval: input.requireApproval,
          agents: input.agents ?? null,
        });
      }
      return created;
    };
    // Where this process runs no jobs (an API with RUN_WORKERS=false), submissions arriving
    // together share one commit, and one wait for the write lock while a worker holds it. A
    // process that runs jobs groups its steps' results: a submission commits alone there, so
    // that its answer does not wait for their writes. Either way what is answered is stored.
    const inserted = this.queue.consuming ? this.tx.immediate(store) : await this.tx.grouped(store);
    if (!inserted && idempotencyKey !== undefined) {
      // Another request with the same key won the race.
      const existing = this.workflows.findByIdempotencyKey(idempotencyKey);
      if (existing !== undefined)
        return this.replay(existing.id, existing.requestHash, requestHash);
    }
    this.logger.info({ reqId: requestId, workflowId: id }, 'workflow submitted');
    try {
      await this.queue.enqueue('plan', { workflowId: id });
    } catch (error) {
      // Stored is accepted: the reconciler dispatches it once the queue is reachable again.
      this.logger.warn(
        { err: error, reqId: requestId, workflowId: id },
        'could not enqueue the plan job yet',
      );
    }
    return { workflow: this.reader.getDetail(id), created: true };
  }

  private replay(id: string, storedHash: string | null, requestHash: string): SubmitResult {
    if (storedHash !== requestHash) {
      throw new DomainError(
        ErrorCode.IDEMPOTENCY_MISMATCH,
        'This Idempotency-Key was already used for a different request body',
      );
    }
    return { workflow: this.reader.getDetail(id), created: false };
  }

  private assertKnownAgents(types: readonly string[]): void {
    const active = new Set(this.agents.listActive().map((a) => a.type));
    const errors = types
      .map((type, index) => ({ type, index }))
      .filter(({ type }) => !active.has(type) || type === 'orchestrator' || type === 'safety')
      .map(({ type, index }) => ({
        path: `agents.${index}`,
        message:
          type === 'orchestrator' || type === 'safety'
            ? `"${type}" always takes part; list only specialist agents`
            : `"${type}" is not an active agent`,
      }));
    if (errors.length > 0)
      throw DomainError.validation('Unknown or inactive agents in "agents"', errors);
  }

  async approve(id: string): Promise<WorkflowDetail> {
    const workflow = this.reader.getRow(id);
    assertWorkflowAction('approve', workflow.status, ['awaiting_approval']);
    const queued = this.tx.immediate(() => {
      const now = nowIso();
      if (
        !this.workflows.transition(id, 'running', { startedAt: now }, now, ['awaiting_approval'])
      ) {
        return undefined;
      }
      this.engine.event(id, 'workflow.approved', 'The plan was approved', now);
      this.engine.event(id, 'workflow.started', 'Running the plan', now);
      return this.engine.queueReadyTasks(id, now);
    });
    if (queued === undefined) return this.conflictAfterRace(id, 'approve');
    this.signals.notify(id);
    await this.engine.dispatch(id, queued);
    return this.reader.getDetail(id);
  }

  async reject(id: string, reason?: string): Promise<WorkflowDetail> {
    const workflow = this.reader.getRow(id);
    assertWorkflowAction('reject', workflow.status, ['awaiting_approval']);
    const moved = this.tx.immediate(() => {
      const now = nowIso();
      const message =
        reason === undefined ? 'The plan was rejected' : `The plan was rejected: ${reason}`;
      if (
        !this.workflows.transition(
          id,
          'cancelled',
          { finishedAt: now, error: { code: 'rejected', message } },
          now,
          ['awaiting_approval'],
        )
      ) {
        return false;
      }
      this.engine.event(id, 'workflow.rejected', message, now);
      this.engine.cancelOpenTasks(id, now, 'the plan was rejected');
      this.engine.event(id, 'workflow.cancelled', 'Cancelled after the plan was rejected', now);
      return true;
    });
    if (!moved) return this.conflictAfterRace(id, 'reject');
    this.signals.notify(id);
    return this.reader.getDetail(id);
  }

  async cancel(id: string, requestId?: string): Promise<WorkflowDetail> {
    const workflow = this.reader.getRow(id);
    assertWorkflowAction('cancel', workflow.status, [
      'pending',
      'planning',
      'awaiting_approval',
      'running',
    ]);
    const moved = this.tx.immediate(() => {
      const now = nowIso();
      if (!this.workflows.transition(id, 'cancelled', { finishedAt: now }, now)) return false;
      this.engine.cancelOpenTasks(id, now, 'the workflow was cancelled');
      this.engine.event(id, 'workflow.cancelled', 'The workflow was cancelled', now);
      return true;
    });
    if (!moved) return this.conflictAfterRace(id, 'cancel');
    this.signals.notify(id);
    const aborted = this.calls.cancelWorkflow(id);
    this.logger.info(
      { reqId: requestId, workflowId: id, abortedCalls: aborted },
      'workflow cancelled',
    );
    return this.reader.getDetail(id);
  }

  /** Runs a failed workflow's failed and cancelled steps again (or plans again if it never planned). */
  async retry(id: string, requestId?: string): Promise<WorkflowDetail> {
    const workflow = this.reader.getRow(id);
    assertWorkflowAction('retry', workflow.status, ['failed']);
    const planned = workflow.plan !== null && this.tasks.listByWorkflow(id).length > 0;
    const outcome = this.tx.immediate(() => {
      const now = nowIso();
      if (!planned) {
        if (
          !this.workflows.transition(id, 'pending', { error: null, finishedAt: null }, now, [
            'failed',
          ])
        ) {
          return undefined;
        }
        this.engine.event(id, 'workflow.created', 'Retrying: the workflow is planned again', now, {
          retry: true,
        });
        return { queued: [], plan: true };
      }
      if (
        !this.workflows.transition(id, 'running', { error: null, finishedAt: null }, now, [
          'failed',
        ])
      ) {
        return undefined;
      }
      for (const task of this.tasks.listByWorkflow(id)) this.tasks.reset(task.id);
      this.engine.event(id, 'workflow.started', 'Retrying the failed and cancelled steps', now, {
        retry: true,
      });
      return { queued: this.engine.queueReadyTasks(id, now), plan: false };
    });
    if (outcome === undefined) return this.conflictAfterRace(id, 'retry');
    this.signals.notify(id);
    if (outcome.plan) {
      try {
        await this.queue.enqueue('plan', { workflowId: id });
      } catch (error) {
        // The workflow is pending in the database: the reconciler dispatches it later.
        this.logger.warn(
          { err: error, reqId: requestId, workflowId: id },
          'could not enqueue the plan job yet',
        );
      }
    } else {
      const all = this.tasks.listByWorkflow(id);
      await this.engine.dispatch(
        id,
        outcome.queued,
        all.every((t) => t.status === 'completed'),
      );
    }
    return this.reader.getDetail(id);
  }

  /** Waits up to `seconds` for the workflow to reach a terminal status. */
  async waitForTerminal(
    id: string,
    seconds: number,
    signal?: AbortSignal,
  ): Promise<WorkflowDetail> {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
      const row = this.reader.getRow(id);
      const remaining = deadline - Date.now();
      if (isTerminalWorkflow(row.status) || remaining <= 0 || signal?.aborted === true) break;
      await this.signals.wait(id, Math.min(remaining, 200), signal);
    }
    return this.reader.getDetail(id);
  }

  private conflictAfterRace(id: string, action: string): never {
    const current = this.reader.getRow(id);
    throw new DomainError(
      ErrorCode.INVALID_TRANSITION,
      `Cannot ${action} the workflow: it is ${current.status} now`,
    );
  }
}

/** A stable hash of a submission, to recognise a replay under the same Idempotency-Key. */
export function hashSubmission(input: SubmitWorkflowInput): string {
  return createHash('sha256').update(canonicalJson(input)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    const items: readonly unknown[] = value;
    return `[${items.map(canonicalJson).join(',')}]`;
  }
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries<unknown>({ ...value })
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

import { Inject, Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { setTimeout as sleep } from 'node:timers/promises';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { newId, nowIso } from '../../common/ids';
import { AgentsService } from '../agents/agents.service';
import type { AgentRow } from '../agents/agents.table';
import { Transactor } from '../database/transactor';
import { backoffDelayMs } from '../llm/llm.service';
import { LlmService } from '../llm/llm.service';
import {
  LlmError,
  type LlmRequest,
  type LlmResponse,
  type StepOutputBrief,
} from '../llm/llm.types';
import type { JobContext, JobName, JobOutcome, JobPayload, QueueKey } from '../queue/jobs';
import { JobQueue } from '../queue/job-queue';
import { TasksRepository, type TaskState } from '../tasks/tasks.repository';
import type { TaskRow } from '../tasks/tasks.table';
import type { EventType } from '../workflows/workflow-event-types';
import type { ErrorBody, Plan, WorkflowResult } from '../workflows/workflow.types';
import { WorkflowsRepository } from '../workflows/workflows.repository';
import type { WorkflowRow } from '../workflows/workflows.table';
import {
  MAX_PLAN_STEPS,
  plannableAgentTypes,
  planOutputSchema,
  safetyOutputSchema,
  validatePlan,
} from './plan-validation';
import { buildPlanPrompt, buildSafetyPrompt, buildStepPrompt, buildSummaryPrompt } from './prompts';
import { abortReasonOf, RunAbortedError, RunningCalls } from './running-calls';
import { WorkflowSignals } from './workflow-signals';

/** How many times an invalid plan is sent back to the model with its errors. */
export const PLAN_REPAIR_ATTEMPTS = 2;
/** How often a running step checks whether it was cancelled from another process. */
const CANCEL_POLL_MS = 500;
/**
 * How long a step's model call runs before the step is recorded as running. Faster steps are
 * recorded as started and completed in one transaction (one commit instead of two), with
 * task.started dated when the run began.
 */
export const CLAIM_AFTER_MS = 50;

/**
 * What a job may still run itself after its own work (JOB_CHAIN_STEPS): the job that carries the
 * chain (its catalogue id) and how many more steps it may take on.
 */
interface Chain {
  carrier: string;
  left: number;
}

/** One run of a step: who it is, and whether the database knows it started. */
interface StepRun {
  workflowId: string;
  task: TaskRow;
  runId: string;
  attempt: number;
  startedAt: string;
  claimed: boolean;
}

/**
 * The durable core: the plan, task and finalize job handlers. Every handler is idempotent (it
 * re-reads the database and acts only when the statuses say so), and every state change is a
 * conditional update written together with its event in one transaction.
 */
@Injectable()
export class WorkflowEngine {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly workflows: WorkflowsRepository,
    private readonly tasks: TasksRepository,
    private readonly agents: AgentsService,
    private readonly llm: LlmService,
    private readonly queue: JobQueue,
    private readonly tx: Transactor,
    private readonly signals: WorkflowSignals,
    private readonly calls: RunningCalls,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(WorkflowEngine.name);
  }

  // ---------------------------------------------------------------- plan

  async plan(workflowId: string, context: JobContext): Promise<JobOutcome> {
    const workflow = this.workflows.findById(workflowId);
    if (workflow === undefined) return;
    if (workflow.status === 'pending') {
      const moved = await this.tx.grouped(() => {
        const now = nowIso();
        if (!this.workflows.transition(workflowId, 'planning', {}, now, ['pending'])) return false;
        this.event(workflowId, 'workflow.planning', 'The orchestrator is planning the steps', now);
        return true;
      });
      this.signals.notify(workflowId);
      if (!moved) return;
    } else if (workflow.status !== 'planning') {
      return;
    }

    const catalogue = this.agents.listActive();
    const allowed = plannableAgentTypes(
      catalogue.map((a) => a.type),
      workflow.allowedAgents,
    );
    if (allowed.length === 0) {
      this.failWorkflow(workflowId, {
        code: 'no_agents',
        message:
          workflow.allowedAgents === null
            ? 'No active specialist agent is available to plan with'
            : `None of the requested agents is an active specialist: ${workflow.allowedAgents.join(', ')}`,
      });
      return;
    }
    // The orchestrator is always active (it cannot be disabled): it is in the catalogue just read.
    const orchestrator =
      catalogue.find((a) => a.type === 'orchestrator') ?? this.agents.getRow('orchestrator');
    const briefs = catalogue
      .filter((a) => allowed.includes(a.type))
      .map((a) => ({ type: a.type, name: a.name, description: a.description }));

    const key = `plan:${workflowId}:${newId()}`;
    const controller = this.calls.start(key, workflowId, context.shutdownSignal);
    const watch = this.watchWorkflow(workflowId, ['planning'], controller);
    let plan: Plan | undefined;
    try {
      let previousErrors: string[] | undefined;
      for (let round = 0; round <= PLAN_REPAIR_ATTEMPTS; round += 1) {
        const response = await this.callWithRetries({
          model: this.modelOf(orchestrator),
          system: orchestrator.systemPrompt,
          prompt: buildPlanPrompt({
            request: workflow.userRequest,
            agents: briefs,
            previousErrors,
          }),
          temperature: orchestrator.temperature,
          maxOutputTokens: orchestrator.maxOutputTokens,
          schema: planOutputSchema,
          context: {
            purpose: 'plan',
            request: workflow.userRequest,
            agents: briefs,
            maxSteps: MAX_PLAN_STEPS,
            previousErrors,
          },
          owner: { workflowId, taskId: null, agentType: 'orchestrator' },
          signal: controller.signal,
        });
        const validation = validatePlan(response.object, allowed);
        if (validation.ok) {
          plan = validation.plan;
          break;
        }
        previousErrors = validation.errors;
        this.logger.warn(
          { workflowId, errors: validation.errors, round },
          'the model proposed an invalid plan',
        );
      }
      if (plan === undefined) {
        this.failWorkflow(workflowId, {
          code: 'invalid_plan',
          message: `The orchestrator could not produce a valid plan after ${PLAN_REPAIR_ATTEMPTS + 1} attempts: ${(previousErrors ?? []).join('; ')}`,
        });
        return;
      }
    } catch (error) {
      return this.onOrchestrationError(workflowId, error, controller.signal, 'planning');
    } finally {
      clearInterval(watch);
      this.calls.finish(key);
    }
    // Outside the try: a database error is not the model's failure; the job is delivered again.
    await this.storePlan(workflow, plan);
  }

  /**
   * Stores the plan's tasks and queues the first steps, each with a job of its own: the plan job
   * does not go on with them (it holds a slot of the workflows queue, which plans the next
   * submissions).
   */
  private async storePlan(workflow: WorkflowRow, plan: Plan): Promise<void> {
    const approval = workflow.requireApproval;
    const queued = await this.tx.grouped(() => {
      const now = nowIso();
      const moved = this.workflows.transition(
        workflow.id,
        approval ? 'awaiting_approval' : 'running',
        { plan, startedAt: approval ? null : now },
        now,
        ['planning'],
      );
      if (!moved) return undefined;
      this.tasks.insertMany(
        plan.steps.map((step, position) => ({
          id: newId(),
          workflowId: workflow.id,
          key: step.key,
          position,
          title: step.title,
          agentType: step.agentType,
          input: step.instructions,
          dependsOn: step.dependsOn,
          status: 'pending' as const,
          createdAt: now,
        })),
      );
      this.event(workflow.id, 'workflow.planned', `Planned ${plan.steps.length} steps`, now, {
        steps: plan.steps.map((s) => ({
          key: s.key,
          agentType: s.agentType,
          dependsOn: s.dependsOn,
        })),
      });
      if (approval) {
        this.event(workflow.id, 'workflow.awaiting_approval', 'The plan waits for approval', now);
        return [];
      }
      this.event(workflow.id, 'workflow.started', 'Running the plan', now);
      return this.queueReadyTasks(workflow.id, now);
    });
    this.signals.notify(workflow.id);
    if (queued !== undefined) void this.dispatch(workflow.id, queued);
  }

  // ---------------------------------------------------------------- tasks

  /**
   * A task job, or a step its job carries (`chain` then names that job). When the step is done,
   * the job may go on with one step it made ready, or the final review (JOB_CHAIN_STEPS).
   */
  async runTask(
    taskId: string,
    context: JobContext,
    chain: Chain = this.chainOf(`task:${taskId}`),
  ): Promise<JobOutcome> {
    const task = this.tasks.findById(taskId);
    if (task === undefined) return;
    if (task.status !== 'queued' && task.status !== 'running') {
      // The step's own job delivered again after its worker died while it carried later work.
      if (task.status === 'completed' && chain.carrier === `task:${taskId}`) {
        return this.resumeChain(task.workflowId, chain, context);
      }
      return;
    }
    const workflow = this.workflows.findBrief(task.workflowId);
    if (workflow === undefined || workflow.status !== 'running') return;

    const run: StepRun = {
      workflowId: workflow.id,
      task,
      runId: newId(),
      attempt: task.attempts + 1,
      startedAt: nowIso(),
      claimed: false,
    };
    const callKey = `task:${taskId}:${run.runId}`;
    const controller = this.calls.start(callKey, workflow.id, context.shutdownSignal);
    // The claim (running, task.started) is written once the call has taken CLAIM_AFTER_MS; a
    // step that answers sooner is claimed in the transaction that stores its result. A busy
    // database is tried again on the next tick; a task that can no longer be claimed (cancelled,
    // or finished by another delivery) stops the call.
    const claimTimer = setInterval(() => {
      const claimed = run.claimed || this.safeRead(() => this.claim(run));
      if (claimed === null) return;
      clearInterval(claimTimer);
      if (claimed) this.signals.notify(run.workflowId);
      else controller.abort(new RunAbortedError('cancelled'));
    }, CLAIM_AFTER_MS);
    claimTimer.unref();

    const watch = setInterval(() => {
      const current = this.safeRead(() => this.tasks.findById(taskId));
      if (current === null) return;
      const ours =
        current !== undefined &&
        (run.claimed
          ? current.status === 'running' && current.runId === run.runId
          : (current.status === 'queued' || current.status === 'running') &&
            current.attempts === task.attempts);
      if (!ours) controller.abort(new RunAbortedError('cancelled'));
    }, CANCEL_POLL_MS);
    watch.unref();
    let output: string;
    try {
      const agent = this.agents.getRow(task.agentType);
      const dependencies = this.dependencyOutputs(workflow.id, task);
      const response = await this.llm.generate({
        model: this.modelOf(agent),
        system: agent.systemPrompt,
        prompt: buildStepPrompt({
          request: workflow.userRequest,
          title: task.title,
          instructions: task.input,
          dependencies,
        }),
        temperature: agent.temperature,
        maxOutputTokens: agent.maxOutputTokens,
        context: {
          purpose: 'step',
          request: workflow.userRequest,
          agentType: task.agentType,
          title: task.title,
          instructions: task.input,
          dependencies,
        },
        owner: { workflowId: workflow.id, taskId, agentType: task.agentType },
        signal: controller.signal,
      });
      output = response.text;
    } catch (error) {
      return this.onTaskError(run, error, controller.signal);
    } finally {
      clearInterval(claimTimer);
      clearInterval(watch);
      this.calls.finish(callKey);
    }
    // Outside the try: a database error here is not the model's failure; it propagates, the
    // queue delivers the job again and the still-running task is claimed by a new run.
    await this.completeTask(run, output, chain, context);
  }

  /**
   * Starts the run in the database: the task becomes running under this run's id (attempts + 1)
   * with its task.started event, dated when the run began. False when the task is no longer
   * queued or running (cancelled, or finished by another delivery). A transaction of its own
   * (from the claim timer, or for a run that failed before it was claimed).
   */
  private claim(run: StepRun): boolean {
    const { task } = run;
    const claimed = this.tx.immediate(() => {
      if (!this.tasks.claim(task.id, run.runId, run.startedAt)) return false;
      this.startedEvent(run);
      return true;
    });
    if (claimed) run.claimed = true;
    return claimed;
  }

  /** The run's task.started event, dated when the run began (inside its transaction). */
  private startedEvent(run: StepRun): void {
    const { task } = run;
    this.event(
      run.workflowId,
      'task.started',
      `${task.title} started (attempt ${run.attempt})`,
      run.startedAt,
      { key: task.key, agentType: task.agentType, attempt: run.attempt },
      task.id,
    );
  }

  /**
   * Stores the run's output. A run that was not recorded as started yet is claimed and completed
   * in one write, with both of its events (task.started dated when it began).
   */
  private storeOutput(run: StepRun, output: string, now: string): boolean {
    const { task } = run;
    if (run.claimed) return this.tasks.complete(task.id, run.runId, output, now);
    if (!this.tasks.claimAndComplete(task.id, run, output, now)) return false;
    this.startedEvent(run);
    return true;
  }

  private async completeTask(
    run: StepRun,
    output: string,
    chain: Chain,
    context: JobContext,
  ): Promise<void> {
    const { workflowId, task, runId } = run;
    const carrier = this.carrierFor(chain, 'tasks');
    const outcome = await this.tx.grouped(() => {
      const now = nowIso();
      if (!this.storeOutput(run, output, now)) return undefined;
      this.event(
        workflowId,
        'task.completed',
        `${task.title} completed`,
        now,
        {
          key: task.key,
          agentType: task.agentType,
        },
        task.id,
      );
      // Read once, after this task completed: the tasks queued now were pending in it.
      const all = this.tasks.listStatesByWorkflow(workflowId);
      const queued = this.queueReadyAmong(workflowId, all, now, carrier);
      return {
        queued,
        finished: queued.length === 0 && all.every((t) => t.status === 'completed'),
      };
    });
    this.signals.notify(workflowId);
    if (outcome === undefined) {
      this.logger.info(
        { workflowId, taskId: task.id, runId },
        'a stale run finished; its result was discarded',
      );
      return;
    }
    const carried = outcome.queued.find((t) => t.carriedBy !== null);
    const finalizeHere = outcome.finished && this.carrierFor(chain, 'workflows') !== null;
    void this.dispatch(
      workflowId,
      outcome.queued.filter((t) => t !== carried),
      outcome.finished && !finalizeHere,
    );
    await this.carryOn(workflowId, carried, finalizeHere, chain, context);
  }

  // ---------------------------------------------------------------- chains

  /** The chain of a job that starts with the given catalogue id: JOB_CHAIN_STEPS to run. */
  private chainOf(carrier: string): Chain {
    return { carrier, left: this.config.queue.chainSteps };
  }

  /**
   * The job that may carry a newly ready step of `queue` (or the final review), or null: the
   * chain has steps left, this process consumes that queue, and it is not shutting down.
   */
  private carrierFor(chain: Chain, queue: QueueKey): string | null {
    return chain.left > 0 && this.queue.consuming && this.config.queue.queues.includes(queue)
      ? chain.carrier
      : null;
  }

  /**
   * Runs, in the job of `chain`, the step it took on (the next link, one step fewer left) or the
   * final review. What they hand back for later (a retry, a shutdown) becomes a job of its own.
   */
  private async carryOn(
    workflowId: string,
    carried: Pick<TaskState, 'id'> | undefined,
    finalize: boolean,
    chain: Chain,
    context: JobContext,
  ): Promise<void> {
    if (carried !== undefined) {
      const outcome = await this.runTask(carried.id, context, {
        carrier: chain.carrier,
        left: chain.left - 1,
      });
      if (outcome !== undefined) {
        await this.handToQueue(workflowId, carried.id, chain.carrier, outcome.retryInMs);
      }
    } else if (finalize) {
      const outcome = await this.finalize(workflowId, context);
      if (outcome !== undefined) {
        await this.enqueueOrLog('finalize', { workflowId }, outcome.retryInMs);
      }
    }
  }

  /**
   * Gives a step this job had taken on a job of its own (after `delayMs`). The mark goes once
   * that job exists: until then the reconciler sees the step carried by this live job, and does
   * not enqueue it without the delay.
   */
  private async handToQueue(
    workflowId: string,
    taskId: string,
    carrier: string,
    delayMs = 0,
  ): Promise<void> {
    await this.enqueueOrLog('task', { workflowId, taskId }, delayMs);
    this.tx.immediate(() => this.tasks.releaseCarry(taskId, carrier));
  }

  /**
   * A carrying job delivered again (its worker died mid-chain): goes on with the step it had
   * taken on, or with the final review when every step is done and no job of its own has it.
   * Where this process may not carry them (JOB_CHAIN_STEPS=0, WORKER_QUEUES, shutting down),
   * they get jobs of their own. The chain starts over with JOB_CHAIN_STEPS.
   */
  private async resumeChain(
    workflowId: string,
    chain: Chain,
    context: JobContext,
  ): Promise<JobOutcome> {
    const workflow = this.workflows.findBrief(workflowId);
    if (workflow?.status !== 'running') return;
    const all = this.tasks.listStatesByWorkflow(workflowId);
    const carried = all.find(
      (t) => t.carriedBy === chain.carrier && (t.status === 'queued' || t.status === 'running'),
    );
    // Not skipped because another job may have the review: at worst the review runs twice (its
    // result is stored once), never not at all.
    const finalize =
      carried === undefined &&
      all.length > 0 &&
      all.every((t) => t.status === 'completed') &&
      !(await this.queue.isLive('finalize', { workflowId }));
    if (carried === undefined && !finalize) return;
    this.logger.info({ workflowId, carrier: chain.carrier }, 'resuming the work this job carried');
    if (carried !== undefined && this.carrierFor(chain, 'tasks') === null) {
      await this.handToQueue(workflowId, carried.id, chain.carrier);
    } else if (finalize && this.carrierFor(chain, 'workflows') === null) {
      await this.enqueueOrLog('finalize', { workflowId });
    } else {
      await this.carryOn(workflowId, carried, finalize, chain, context);
    }
  }

  private onTaskError(run: StepRun, error: unknown, signal: AbortSignal): JobOutcome {
    const { workflowId, task, runId, attempt } = run;
    const reason = abortReasonOf(signal);
    // A retry of the workflow may have queued this step again while this run was being stopped:
    // both queue drivers run a job enqueued while it is active once more after it.
    if (reason === 'cancelled') return;
    if (reason === 'shutdown') {
      // Hand the step back without counting the attempt; another consumer (or this one after a
      // restart) runs it again. (An unclaimed run left the task queued: nothing to undo.)
      this.tx.immediate(() =>
        this.tasks.transition(task.id, 'queued', { attemptsDelta: -1 }, runId),
      );
      this.logger.info({ workflowId, taskId: task.id }, 'step handed back at shutdown');
      return { retryInMs: 0 };
    }
    // The attempt counts: it is recorded as started, whatever follows.
    if (!run.claimed && !this.claim(run)) return;
    const failure = toErrorBody(error);
    if (error instanceof LlmError && error.retryable && attempt < this.config.llm.maxAttempts) {
      const delayMs = backoffDelayMs(attempt, error, this.config.llm.retryBaseMs);
      const requeued = this.tx.immediate(() => {
        const now = nowIso();
        if (!this.tasks.transition(task.id, 'queued', { error: failure }, runId)) return false;
        this.event(
          workflowId,
          'task.retrying',
          `${task.title} will retry in ${Math.round(delayMs)} ms: ${failure.message}`,
          now,
          { key: task.key, attempt, delayMs, error: failure },
          task.id,
        );
        return true;
      });
      this.signals.notify(workflowId);
      return requeued ? { retryInMs: delayMs } : undefined;
    }
    this.logger.warn({ workflowId, taskId: task.id, error: failure }, 'step failed for good');
    this.tx.immediate(() => {
      const now = nowIso();
      if (!this.tasks.transition(task.id, 'failed', { error: failure, finishedAt: now }, runId))
        return;
      this.event(
        workflowId,
        'task.failed',
        `${task.title} failed: ${failure.message}`,
        now,
        {
          key: task.key,
          attempts: attempt,
          error: failure,
        },
        task.id,
      );
      this.failWorkflowInTx(
        workflowId,
        {
          code: failure.code,
          message: `Step "${task.key}" (${task.agentType}) failed after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${failure.message}`,
        },
        now,
      );
    });
    this.signals.notify(workflowId);
    this.calls.cancelWorkflow(workflowId);
  }

  private dependencyOutputs(workflowId: string, task: TaskRow): StepOutputBrief[] {
    if (task.dependsOn.length === 0) return [];
    return this.tasks
      .listOutputs(workflowId, task.dependsOn)
      .map((t) => ({ key: t.key, title: t.title, agentType: t.agentType, output: t.output ?? '' }));
  }

  // ---------------------------------------------------------------- finalize

  async finalize(workflowId: string, context: JobContext): Promise<JobOutcome> {
    const workflow = this.workflows.findById(workflowId);
    if (workflow === undefined || workflow.status !== 'running') return;
    const tasks = this.tasks.listByWorkflow(workflowId);
    if (tasks.length === 0 || tasks.some((t) => t.status !== 'completed')) return;
    const outputs: StepOutputBrief[] = tasks.map((t) => ({
      key: t.key,
      title: t.title,
      agentType: t.agentType,
      output: t.output ?? '',
    }));

    const key = `finalize:${workflowId}:${newId()}`;
    const controller = this.calls.start(key, workflowId, context.shutdownSignal);
    const watch = this.watchWorkflow(workflowId, ['running'], controller);
    let answers: { safety: WorkflowResult['safety']; summary: string };
    try {
      const safetyAgent = this.agents.getRow('safety');
      const safetyResponse = await this.callWithRetries({
        model: this.modelOf(safetyAgent),
        system: safetyAgent.systemPrompt,
        prompt: buildSafetyPrompt({ request: workflow.userRequest, outputs }),
        temperature: safetyAgent.temperature,
        maxOutputTokens: safetyAgent.maxOutputTokens,
        schema: safetyOutputSchema,
        context: { purpose: 'safety', request: workflow.userRequest, outputs },
        owner: { workflowId, taskId: null, agentType: 'safety' },
        signal: controller.signal,
      });
      const safety = safetyOutputSchema.parse(safetyResponse.object);
      const orchestrator = this.agents.getRow('orchestrator');
      const summary = await this.callWithRetries({
        model: this.modelOf(orchestrator),
        system: orchestrator.systemPrompt,
        prompt: buildSummaryPrompt({ request: workflow.userRequest, outputs, safety }),
        temperature: orchestrator.temperature,
        maxOutputTokens: orchestrator.maxOutputTokens,
        context: { purpose: 'summary', request: workflow.userRequest, outputs, safety },
        owner: { workflowId, taskId: null, agentType: 'orchestrator' },
        signal: controller.signal,
      });
      answers = { safety, summary: summary.text };
    } catch (error) {
      return this.onOrchestrationError(workflowId, error, controller.signal, 'finalizing');
    } finally {
      clearInterval(watch);
      this.calls.finish(key);
    }
    // Outside the try: a database error is not the model's failure; the job is delivered again.
    const { safety, summary } = answers;
    await this.tx.grouped(() => {
      const now = nowIso();
      const result = {
        summary,
        safety,
        outputs: Object.fromEntries(outputs.map((o) => [o.key, o.output])),
      };
      if (
        !this.workflows.transition(workflowId, 'completed', { result, finishedAt: now }, now, [
          'running',
        ])
      ) {
        return;
      }
      this.event(
        workflowId,
        'workflow.completed',
        safety.approved
          ? 'Completed; the safety review approved the result'
          : 'Completed; the safety review did NOT approve the result',
        now,
        { safetyApproved: safety.approved },
      );
    });
    this.signals.notify(workflowId);
  }

  // ---------------------------------------------------------------- shared

  /**
   * Queues every pending task whose dependencies are all completed, each for a job of its own.
   * Runs inside a transaction; returns the tasks it queued (the caller enqueues their jobs after
   * the commit).
   */
  queueReadyTasks(workflowId: string, now: string): TaskState[] {
    return this.queueReadyAmong(workflowId, this.tasks.listStatesByWorkflow(workflowId), now, null);
  }

  /**
   * `queueReadyTasks` over the workflow's tasks as the caller read them in this transaction. With
   * a `carrier`, the first task queued is marked as carried by that job, which runs it itself.
   */
  private queueReadyAmong(
    workflowId: string,
    all: readonly TaskState[],
    now: string,
    carrier: string | null,
  ): TaskState[] {
    const queued: TaskState[] = [];
    for (const task of readyTasks(all)) {
      const carriedBy = queued.length === 0 ? carrier : null;
      if (!this.tasks.transition(task.id, 'queued', { carriedBy })) continue;
      this.event(
        workflowId,
        'task.queued',
        `${task.title} is queued for the ${task.agentType}`,
        now,
        {
          key: task.key,
          agentType: task.agentType,
        },
        task.id,
      );
      queued.push({
        id: task.id,
        key: task.key,
        title: task.title,
        agentType: task.agentType,
        status: 'queued',
        dependsOn: task.dependsOn,
        carriedBy,
      });
    }
    return queued;
  }

  /**
   * Whether a live job has, or may be running, the workflow's final review: its own job, or a
   * job that ran one of its steps (the one that ran the last step goes on with the review).
   */
  async finalReviewLive(
    workflowId: string,
    tasks: readonly Pick<TaskState, 'id' | 'carriedBy'>[],
  ): Promise<boolean> {
    if (await this.queue.isLive('finalize', { workflowId })) return true;
    const jobs = new Set(tasks.map((t) => `task:${t.id}`));
    for (const t of tasks) if (t.carriedBy !== null) jobs.add(t.carriedBy);
    for (const id of jobs) {
      if (await this.queue.isLiveId(id)) return true;
    }
    return false;
  }

  /** Enqueues the jobs for queued tasks (and finalize) after their transaction committed. */
  async dispatch(
    workflowId: string,
    queued: readonly Pick<TaskState, 'id'>[],
    finalize = false,
  ): Promise<void> {
    for (const task of queued) {
      if (!(await this.enqueueOrLog('task', { workflowId, taskId: task.id }))) return;
    }
    if (finalize) await this.enqueueOrLog('finalize', { workflowId });
  }

  /** Enqueues a job; false (logged) when the queue cannot take it right now. */
  private async enqueueOrLog<N extends JobName>(
    name: N,
    payload: JobPayload<N>,
    delayMs = 0,
  ): Promise<boolean> {
    try {
      await this.queue.enqueue(name, payload, { delayMs });
      return true;
    } catch (error) {
      // The rows are queued in the database; the reconciler enqueues them when the queue is back.
      this.logger.warn(
        { err: error, workflowId: payload.workflowId },
        'could not enqueue jobs; the reconciler will retry',
      );
      return false;
    }
  }

  /** Fails the workflow: cancels its unfinished steps, aborts calls in flight. */
  failWorkflow(workflowId: string, error: ErrorBody): void {
    this.tx.immediate(() => this.failWorkflowInTx(workflowId, error, nowIso()));
    this.signals.notify(workflowId);
    this.calls.cancelWorkflow(workflowId);
  }

  private failWorkflowInTx(workflowId: string, error: ErrorBody, now: string): void {
    if (!this.workflows.transition(workflowId, 'failed', { error, finishedAt: now }, now)) return;
    this.cancelOpenTasks(workflowId, now, 'the workflow failed');
    this.event(workflowId, 'workflow.failed', error.message, now, { error });
  }

  /** Cancels every unfinished task of the workflow (inside a transaction). */
  cancelOpenTasks(workflowId: string, now: string, why: string): void {
    for (const task of this.tasks.listByWorkflow(workflowId)) {
      if (task.status === 'completed' || task.status === 'failed' || task.status === 'cancelled')
        continue;
      if (!this.tasks.transition(task.id, 'cancelled', { finishedAt: now })) continue;
      this.event(
        workflowId,
        'task.cancelled',
        `${task.title} was cancelled: ${why}`,
        now,
        {
          key: task.key,
        },
        task.id,
      );
    }
  }

  event(
    workflowId: string,
    type: EventType,
    message: string,
    now: string,
    data?: Record<string, unknown>,
    taskId?: string,
  ): void {
    this.workflows.insertEvent({
      workflowId,
      taskId: taskId ?? null,
      type,
      message,
      data: data ?? null,
      createdAt: now,
    });
  }

  private onOrchestrationError(
    workflowId: string,
    error: unknown,
    signal: AbortSignal,
    phase: 'planning' | 'finalizing',
  ): JobOutcome {
    const reason = abortReasonOf(signal);
    if (reason === 'cancelled') return;
    if (reason === 'shutdown') {
      this.logger.info({ workflowId, phase }, 'handed back at shutdown');
      return { retryInMs: 0 };
    }
    const failure = toErrorBody(error);
    this.logger.warn({ workflowId, phase, error: failure }, `${phase} failed`);
    this.failWorkflow(workflowId, {
      code: failure.code,
      message: `${phase === 'planning' ? 'Planning' : 'The final review'} failed: ${failure.message}`,
    });
  }

  /** One model call with the transient-error retries of TASK_MAX_ATTEMPTS (plan and finalize). */
  private async callWithRetries<T>(
    request: LlmRequest<T> & { signal: AbortSignal },
  ): Promise<LlmResponse<T>> {
    const { signal } = request;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.llm.generate(request);
      } catch (error) {
        if (
          !(error instanceof LlmError) ||
          !error.retryable ||
          attempt >= this.config.llm.maxAttempts
        ) {
          throw error;
        }
        const delayMs = backoffDelayMs(attempt, error, this.config.llm.retryBaseMs);
        this.logger.info(
          { workflowId: request.owner.workflowId, attempt, delayMs, code: error.code },
          'retrying a model call',
        );
        await sleep(delayMs, undefined, { signal }).catch(() => undefined);
        if (signal.aborted) throw error;
      }
    }
  }

  /** Aborts the controller when the workflow leaves the given statuses (cancel from anywhere). */
  private watchWorkflow(
    workflowId: string,
    statuses: readonly WorkflowRow['status'][],
    controller: AbortController,
  ): NodeJS.Timeout {
    const timer = setInterval(() => {
      const current = this.safeRead(() => this.workflows.findBrief(workflowId));
      if (current === null) return;
      if (current === undefined || !statuses.includes(current.status)) {
        controller.abort(new RunAbortedError('cancelled'));
      }
    }, CANCEL_POLL_MS);
    timer.unref();
    return timer;
  }

  /**
   * A read from a watch timer: null when the database cannot answer right now (busy, or already
   * closed at the end of a shutdown) — the watch tries again on its next tick.
   */
  private safeRead<T>(read: () => T): T | null {
    try {
      return read();
    } catch {
      return null;
    }
  }

  private modelOf(agent: AgentRow): string {
    return agent.model ?? this.config.llm.defaultModel;
  }
}

/** The pending tasks whose dependencies are all completed. */
export function readyTasks<T extends Pick<TaskState, 'key' | 'status' | 'dependsOn'>>(
  all: readonly T[],
): T[] {
  const done = new Set(all.filter((t) => t.status === 'completed').map((t) => t.key));
  return all.filter((t) => t.status === 'pending' && t.dependsOn.every((d) => done.has(d)));
}

export function toErrorBody(error: unknown): ErrorBody {
  if (error instanceof LlmError) return { code: error.code, message: error.message };
  return {
    code: 'internal_error',
    message: error instanceof Error ? error.message : 'an unexpected error occurred',
  };
}

import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { nowIso } from '../../common/ids';
import { Transactor } from '../database/transactor';
import { JobQueue } from '../queue/job-queue';
import { TasksRepository } from '../tasks/tasks.repository';
import { WorkflowsRepository } from '../workflows/workflows.repository';
import { readyTasks, WorkflowEngine } from './workflow-engine.service';

export interface ReconcileReport {
  plan: number;
  tasks: number;
  finalize: number;
}

/**
 * The database is the source of truth and the queue is transport: this finds unfinished work
 * with no live job (a process died, Redis restarted empty) and enqueues it again. Safe to run at
 * any time and from several processes; jobs are deduplicated by deterministic ids and handlers
 * are idempotent.
 */
@Injectable()
export class Reconciler {
  constructor(
    private readonly workflows: WorkflowsRepository,
    private readonly tasks: TasksRepository,
    private readonly engine: WorkflowEngine,
    private readonly queue: JobQueue,
    private readonly tx: Transactor,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(Reconciler.name);
  }

  async reconcile(): Promise<ReconcileReport> {
    const report: ReconcileReport = { plan: 0, tasks: 0, finalize: 0 };
    for (const workflow of this.workflows.listUnfinished()) {
      const workflowId = workflow.id;
      if (workflow.status === 'pending' || workflow.status === 'planning') {
        if (!(await this.queue.isLive('plan', { workflowId }))) {
          await this.queue.enqueue('plan', { workflowId });
          report.plan += 1;
        }
        continue;
      }
      if (workflow.status !== 'running') continue;
      // Read first: a write transaction only when a step is ready but was never queued.
      let tasks = this.tasks.listStatesByWorkflow(workflowId);
      if (readyTasks(tasks).length > 0) {
        this.tx.immediate(() => this.engine.queueReadyTasks(workflowId, nowIso()));
        tasks = this.tasks.listStatesByWorkflow(workflowId);
      }
      for (const task of tasks) {
        if (task.status !== 'queued' && task.status !== 'running') continue;
        if (await this.queue.isLive('task', { workflowId, taskId: task.id })) continue;
        // Carried: the job that made it ready runs it itself (JOB_CHAIN_STEPS).
        const carrier = task.carriedBy;
        if (carrier !== null) {
          if (await this.queue.isLiveId(carrier)) continue;
          // That job is gone: the step gets a job of its own, and is no longer marked as carried.
          this.tx.immediate(() => this.tasks.releaseCarry(task.id, carrier));
        }
        await this.queue.enqueue('task', { workflowId, taskId: task.id });
        report.tasks += 1;
      }
      if (
        tasks.length > 0 &&
        tasks.every((t) => t.status === 'completed') &&
        !(await this.engine.finalReviewLive(workflowId, tasks))
      ) {
        await this.queue.enqueue('finalize', { workflowId });
        report.finalize += 1;
      }
    }
    if (report.plan + report.tasks + report.finalize > 0) {
      this.logger.info({ ...report }, 'reconciler re-enqueued unfinished work');
    }
    return report;
  }
}

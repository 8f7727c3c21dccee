import {
  Inject,
  Injectable,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { JOB_OBSERVER, type JobObserver } from '../metrics/job-observer';
import { JobQueue } from '../queue/job-queue';
import type { JobHandler, JobHandlers, JobName } from '../queue/jobs';
import { Reconciler } from './reconciler.service';
import { WorkflowEngine } from './workflow-engine.service';

/**
 * Consumes the queues in this process: registers the job handlers, resumes unfinished work found
 * in the database, reconciles periodically and drains at shutdown. Only roots that run
 * processors (API with RUN_WORKERS=true, worker, in-process CLI) include it.
 */
@Injectable()
export class OrchestratorProcessor implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly queue: JobQueue,
    private readonly engine: WorkflowEngine,
    private readonly reconciler: Reconciler,
    private readonly logger: PinoLogger,
    @Optional() @Inject(JOB_OBSERVER) private readonly observer?: JobObserver,
  ) {
    this.logger.setContext(OrchestratorProcessor.name);
  }

  async onApplicationBootstrap(): Promise<void> {
    const handlers: JobHandlers = {
      plan: this.observed('plan', (payload, context) =>
        this.engine.plan(payload.workflowId, context),
      ),
      task: this.observed('task', (payload, context) =>
        this.engine.runTask(payload.taskId, context),
      ),
      finalize: this.observed('finalize', (payload, context) =>
        this.engine.finalize(payload.workflowId, context),
      ),
    };
    await this.queue.consume(handlers, this.config.queue.queues);
    await this.reconcileSafely();
    const interval = this.config.queue.reconcileIntervalMs;
    if (interval > 0) {
      this.timer = setInterval(() => void this.reconcileSafely(), interval);
      this.timer.unref();
    }
    this.logger.info(
      {
        driver: this.queue.driver,
        queues: this.config.queue.queues,
        concurrency: this.config.queue.concurrency,
      },
      'processing jobs',
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.queue.stop(this.config.queue.shutdownGraceMs);
  }

  /** The handler, timed and counted in the process's metrics when it has them. */
  private observed<N extends JobName>(job: N, handler: JobHandler<N>): JobHandler<N> {
    const metrics = this.observer;
    if (metrics === undefined) return handler;
    return async (payload, context) => {
      const started = performance.now();
      const seconds = () => (performance.now() - started) / 1000;
      try {
        const outcome = await handler(payload, context);
        metrics.observeJob(job, outcome === undefined ? 'completed' : 'retry_later', seconds());
        return outcome;
      } catch (error) {
        metrics.observeJob(job, 'failed', seconds());
        throw error;
      }
    };
  }

  private async reconcileSafely(): Promise<void> {
    try {
      await this.reconciler.reconcile();
    } catch (error) {
      this.logger.warn({ err: error }, 'reconciliation failed; it runs again on the next interval');
    }
  }
}

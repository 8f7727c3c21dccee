import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { DelayedError, Worker, type JobsOptions } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import { withDeadline } from '../../common/deadline';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { JobQueue, type EnqueueOptions } from './job-queue';
import {
  dispatchJob,
  isJobName,
  JOBS,
  jobIdOf,
  jobNameOfId,
  QUEUE_NAMES,
  type JobContext,
  type JobHandlers,
  type JobName,
  type JobPayload,
  type QueueKey,
} from './jobs';
import { workerConnection } from './redis-connection';

/**
 * The parts of BullMQ's Job, Queue and Worker this driver uses. BullMQ's own classes default
 * their data types to `any`; going through these keeps job data `unknown` until the catalogue's
 * schema has parsed it.
 */
export interface JobHandle {
  id?: string;
  name: string;
  data: unknown;
  getState(): Promise<string>;
  moveToDelayed(timestamp: number, token?: string): Promise<void>;
}

export interface QueueHandle {
  readonly name: string;
  getJob(id: string): Promise<JobHandle | undefined>;
  getDeduplicationJobId(id: string): Promise<string | null>;
  add(name: string, data: unknown, options: JobsOptions): Promise<unknown>;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

interface WorkerHandle {
  close(): Promise<void>;
}

const LIVE_STATES = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);
/** Bound on one Redis command from the API, so a submission never hangs on a lost Redis. */
const PRODUCER_TIMEOUT_MS = 1000;

/**
 * The catalogue's deterministic id (`plan:<id>`, `task:<id>`) as a BullMQ deduplication id
 * (`plan-<id>`; BullMQ's keys use ':' as their separator).
 */
export function deduplicationIdOf(catalogueId: string): string {
  return catalogueId.replace(/:/g, '-');
}

/** How long workers get to close after their jobs were aborted. */
const STOP_AFTER_ABORT_MS = 5000;

/** Whether the promise settles (either way) within `ms`. */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = promise.then(
    () => true,
    () => true,
  );
  return withDeadline(settled, ms, () => new Error('not settled')).catch(() => false);
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return withDeadline(promise, ms, () => new Error(`Redis did not answer ${what} within ${ms} ms`));
}

/**
 * The BullMQ driver: queues `broski-workflows` and `broski-tasks` on Redis, jobs deduplicated by
 * the catalogue's deterministic ids, bounded retention, retries with exponential backoff for unexpected errors, stalled-job
 * recovery (a killed worker's job comes back after its lock expires). Workers can be any number
 * of processes.
 */
@Injectable()
export class BullmqJobQueue extends JobQueue implements OnApplicationShutdown {
  readonly driver = 'bullmq' as const;
  private readonly workers: WorkerHandle[] = [];
  private readonly shutdown = new AbortController();
  private stopping = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectQueue(QUEUE_NAMES.workflows) private readonly workflowsQueue: QueueHandle,
    @InjectQueue(QUEUE_NAMES.tasks) private readonly tasksQueue: QueueHandle,
    private readonly logger: PinoLogger,
  ) {
    super();
    this.logger.setContext(BullmqJobQueue.name);
    for (const queue of [workflowsQueue, tasksQueue]) {
      queue.on('error', (error) =>
        this.logger.warn({ err: error, queue: queue.name }, 'queue connection error'),
      );
    }
  }

  get consuming(): boolean {
    return this.workers.length > 0 && !this.stopping;
  }

  private queueOf(name: JobName): QueueHandle {
    return JOBS[name].queue === 'tasks' ? this.tasksQueue : this.workflowsQueue;
  }

  /**
   * One round trip: BullMQ's deduplication skips the add while a job with the same catalogue id
   * is waiting, delayed or active (the key is dropped when the job completes or fails for good,
   * so a retried step is queued again). Added while that job is active, the job runs once more
   * after it (`keepLastIfActive`): a step re-queued by a retry while its cancelled run is still
   * winding down is not lost. Job ids are BullMQ's own; the deduplication id is the catalogue's.
   */
  async enqueue<N extends JobName>(name: N, payload: JobPayload<N>, options: EnqueueOptions = {}) {
    const id = deduplicationIdOf(jobIdOf(name, payload));
    await withTimeout(
      this.queueOf(name).add(name, payload, {
        deduplication: { id, keepLastIfActive: true },
        delay: options.delayMs ?? 0,
        attempts: this.config.queue.jobAttempts,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: { count: this.config.queue.keepCompleted, age: 24 * 3600 },
        removeOnFail: { count: this.config.queue.keepFailed, age: 7 * 24 * 3600 },
      }),
      PRODUCER_TIMEOUT_MS,
      `adding ${id}`,
    );
  }

  async isLiveId(catalogueId: string): Promise<boolean> {
    const name = jobNameOfId(catalogueId);
    if (name === undefined) return false;
    const queue = this.queueOf(name);
    const live = await withTimeout(
      (async () => {
        const jobId = await queue.getDeduplicationJobId(deduplicationIdOf(catalogueId));
        if (jobId === null) return false;
        const job = await queue.getJob(jobId);
        return job !== undefined && LIVE_STATES.has(await job.getState());
      })(),
      PRODUCER_TIMEOUT_MS,
      'a job lookup',
    );
    return live;
  }

  async consume(handlers: JobHandlers, queues: readonly QueueKey[]): Promise<void> {
    const redisUrl = this.config.queue.redisUrl;
    if (redisUrl === undefined) throw new Error('REDIS_URL is required by the BullMQ driver');
    for (const key of queues) {
      const worker = new Worker(
        QUEUE_NAMES[key],
        (job: JobHandle, token?: string) => this.process(handlers, job, token),
        {
          connection: workerConnection(redisUrl),
          prefix: this.config.queue.prefix,
          concurrency: this.config.queue.concurrency,
          lockDuration: this.config.queue.lockMs,
          stalledInterval: Math.max(1000, Math.floor(this.config.queue.lockMs / 2)),
          maxStalledCount: 5,
          autorun: true,
        },
      );
      worker.on('error', (error) =>
        this.logger.warn({ err: error, queue: QUEUE_NAMES[key] }, 'worker connection error'),
      );
      worker.on('failed', (job: JobHandle | undefined, error: Error) =>
        this.logger.warn({ err: error, jobId: job?.id }, 'job attempt failed'),
      );
      worker.on('stalled', (jobId: string) => this.logger.warn({ jobId }, 'stalled job recovered'));
      this.workers.push(worker);
    }
  }

  private async process(
    handlers: JobHandlers,
    job: JobHandle,
    token: string | undefined,
  ): Promise<void> {
    if (!isJobName(job.name)) throw new Error(`unknown job ${job.name}`);
    const context: JobContext = { jobId: job.id ?? '', shutdownSignal: this.shutdown.signal };
    const outcome = await dispatchJob(handlers, job.name, job.data, context);
    if (outcome !== undefined) {
      // The handler asked for a later run (Retry-After, backoff, hand-back at shutdown).
      await job.moveToDelayed(Date.now() + outcome.retryInMs, token);
      throw new DelayedError();
    }
  }

  /** Stops taking jobs; running ones get `graceMs`, then are aborted and handed back. */
  async stop(graceMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const closing = Promise.all(this.workers.map((w) => w.close()));
    if (await settlesWithin(closing, graceMs)) return;
    this.logger.warn('grace period over: aborting running jobs and handing them back');
    this.shutdown.abort(new Error('shutdown'));
    // Aborted handlers return at once; a worker whose connection is gone may never finish
    // closing (a known BullMQ issue after a Redis restart), so this wait is bounded too.
    if (!(await settlesWithin(closing, STOP_AFTER_ABORT_MS))) {
      this.logger.warn('workers did not close in time; disconnecting');
    }
  }

  /** Queues close after the workers (Nest closes the queue connections itself). */
  async onApplicationShutdown(): Promise<void> {
    await this.stop(this.config.queue.shutdownGraceMs);
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { JobQueue, type EnqueueOptions } from './job-queue';
import {
  dispatchJob,
  JOBS,
  jobIdOf,
  type JobHandlers,
  type JobName,
  type JobPayload,
  type QueueKey,
} from './jobs';

interface InlineJob {
  id: string;
  name: JobName;
  payload: unknown;
  queue: QueueKey;
  state: 'waiting' | 'delayed' | 'active';
  timer?: NodeJS.Timeout;
  /** Enqueued again while it ran: run once more afterwards. */
  again: boolean;
  failures: number;
}

const MAX_UNEXPECTED_FAILURES = 5;

/**
 * The embedded queue: jobs run in this process with a concurrency limit per queue. Not durable by
 * itself — the database is; at start-up the reconciler re-enqueues unfinished work.
 */
@Injectable()
export class InlineJobQueue extends JobQueue {
  readonly driver = 'inline' as const;
  private readonly jobs = new Map<string, InlineJob>();
  private readonly waiting: Record<QueueKey, string[]> = { workflows: [], tasks: [] };
  private readonly active: Record<QueueKey, number> = { workflows: 0, tasks: 0 };
  private handlers: JobHandlers | undefined;
  private queues: readonly QueueKey[] = [];
  private stopping = false;
  private readonly shutdown = new AbortController();
  private readonly running = new Set<Promise<void>>();
  private readonly starts: (() => void)[] = [];

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly logger: PinoLogger,
  ) {
    super();
    this.logger.setContext(InlineJobQueue.name);
  }

  get consuming(): boolean {
    return this.handlers !== undefined && !this.stopping;
  }

  async enqueue<N extends JobName>(name: N, payload: JobPayload<N>, options: EnqueueOptions = {}) {
    if (this.stopping) return;
    const id = jobIdOf(name, payload);
    const existing = this.jobs.get(id);
    if (existing !== undefined) {
      if (existing.state === 'active') existing.again = true;
      return;
    }
    const job: InlineJob = {
      id,
      name,
      payload,
      queue: JOBS[name].queue,
      state: 'waiting',
      again: false,
      failures: 0,
    };
    this.jobs.set(id, job);
    this.schedule(job, options.delayMs ?? 0);
  }

  async isLiveId(catalogueId: string): Promise<boolean> {
    return this.jobs.has(catalogueId);
  }

  async consume(handlers: JobHandlers, queues: readonly QueueKey[]): Promise<void> {
    this.handlers = handlers;
    this.queues = queues;
    for (const queue of queues) this.pump(queue);
  }

  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const job of this.jobs.values()) {
      if (job.timer !== undefined) clearTimeout(job.timer);
    }
    const drained = Promise.all([...this.running]);
    const graceful = await Promise.race([
      drained.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), graceMs).unref()),
    ]);
    if (!graceful) {
      this.logger.warn({ running: this.running.size }, 'grace period over: aborting running jobs');
      this.shutdown.abort(new Error('shutdown'));
      await drained;
    }
    this.jobs.clear();
  }

  private schedule(job: InlineJob, delayMs: number): void {
    if (delayMs > 0) {
      job.state = 'delayed';
      job.timer = setTimeout(() => {
        job.timer = undefined;
        job.state = 'waiting';
        this.waiting[job.queue].push(job.id);
        this.pump(job.queue);
      }, delayMs);
      job.timer.unref();
      return;
    }
    job.state = 'waiting';
    this.waiting[job.queue].push(job.id);
    this.pump(job.queue);
  }

  private pump(queue: QueueKey): void {
    if (this.handlers === undefined || this.stopping || !this.queues.includes(queue)) return;
    while (this.active[queue] < this.config.queue.concurrency) {
      const id = this.waiting[queue].shift();
      if (id === undefined) return;
      const job = this.jobs.get(id);
      if (job === undefined || job.state !== 'waiting') continue;
      job.state = 'active';
      this.active[queue] += 1;
      const run = this.nextTurn()
        .then(() => this.execute(job))
        .finally(() => {
          this.running.delete(run);
          this.active[queue] -= 1;
          this.pump(queue);
        });
      this.running.add(run);
    }
  }

  /**
   * Resolves on a later turn of the event loop, one job start per turn: a workflow's jobs would
   * otherwise run back to back in one chain of promises (the offline model answers at once), and
   * requests to the API would wait for all of them. Between two job starts Node polls for I/O,
   * so a request waits for one job at most.
   */
  private nextTurn(): Promise<void> {
    return new Promise((resolve) => {
      this.starts.push(resolve);
      if (this.starts.length === 1) setImmediate(this.startOne);
    });
  }

  private readonly startOne = (): void => {
    this.starts.shift()?.();
    // Scheduled from within this turn's setImmediate phase: runs after the next I/O poll.
    if (this.starts.length > 0) setImmediate(this.startOne);
  };

  private async execute(job: InlineJob): Promise<void> {
    const handlers = this.handlers;
    // Stopping: a job that was waiting for its turn does not start (the database keeps the work;
    // the reconciler queues it again at the next start).
    if (handlers === undefined || this.stopping) return;
    let retryInMs: number | undefined;
    try {
      const outcome = await dispatchJob(handlers, job.name, job.payload, {
        jobId: job.id,
        shutdownSignal: this.shutdown.signal,
      });
      retryInMs = outcome === undefined ? undefined : outcome.retryInMs;
      job.failures = 0;
    } catch (error) {
      job.failures += 1;
      this.logger.error(
        { err: error, jobId: job.id, failures: job.failures },
        'job failed unexpectedly',
      );
      if (job.failures < MAX_UNEXPECTED_FAILURES) retryInMs = 250 * 2 ** job.failures;
    }
    if (this.stopping) return;
    if (retryInMs !== undefined) {
      job.again = false;
      this.schedule(job, retryInMs);
    } else if (job.again) {
      job.again = false;
      this.schedule(job, 0);
    } else {
      this.jobs.delete(job.id);
    }
  }
}

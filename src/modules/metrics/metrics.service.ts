import { getQueueToken } from '@nestjs/bull-shared';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { withDeadline } from '../../common/deadline';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { JOBS, QUEUE_NAMES, type JobName } from '../queue/jobs';
import { JOB_OUTCOMES, type JobObserver, type JobOutcomeLabel } from './job-observer';
import { WORKFLOW_STATUSES } from '../workflows/workflow-status';
import {
  MetricsRepository,
  type LlmCallTotals,
  type TaskDurationBucket,
  type TaskStatusCount,
  type WorkflowStatusCount,
} from './metrics.repository';
import { StoredHistogram, type StoredHistogramSeries } from './stored-histogram';

/** Upper bounds (seconds) of `broski_task_duration_seconds`: model steps take ~0.1 s to minutes. */
export const TASK_DURATION_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600] as const;
/** Upper bounds (seconds) of `http_request_duration_seconds`. */
export const HTTP_DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
] as const;
/** Upper bounds (seconds) of `broski_job_duration_seconds`: offline jobs take ms, model jobs minutes. */
export const JOB_DURATION_BUCKETS = [
  0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
] as const;
/** Injection token of the registry's scope (see MetricsModule.forRoot). */
export const METRICS_SCOPE = Symbol('METRICS_SCOPE');
export type MetricsScope = 'api' | 'worker';
/** The BullMQ job states reported by `broski_queue_jobs`. */
export const QUEUE_JOB_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
/** A scrape never waits longer than this for Redis; a queue that did not answer has no samples. */
export const QUEUE_COUNTS_TIMEOUT_MS = 1000;

export const UNHANDLED_ERROR_KINDS = ['rejection', 'exception'] as const;
export type UnhandledErrorKind = (typeof UNHANDLED_ERROR_KINDS)[number];
type QueueJobState = (typeof QUEUE_JOB_STATES)[number];

/** The part of a BullMQ Queue the metrics read. */
interface JobCountsSource {
  getJobCounts(...states: QueueJobState[]): Promise<Record<string, number>>;
}

/** One scrape's reading of the database (taken once, shared by every work family). */
interface WorkSnapshot {
  workflows: WorkflowStatusCount[];
  tasks: TaskStatusCount[];
  durations: TaskDurationBucket[];
  llm: LlmCallTotals[];
}

/**
 * Prometheus metrics of one application instance, in its own registry (several applications can
 * live in one process, as in the tests; nothing goes to prom-client's global registry).
 *
 * **Where the numbers come from.** Work happens in the API process and in any number of separate
 * worker processes that share only the database (and Redis). In-memory counters would count one
 * process's share and restart from zero with it, so the work families are read from the database
 * at scrape time, by `collect()` callbacks running a few GROUP BY queries (MetricsRepository):
 *
 * - `broski_workflows_total{status}`, `broski_tasks_total{agent_type,status}`: rows per current
 *   status. Their sum over `status` only grows (rows are never deleted); a terminal status only
 *   grows except `failed` on retry; non-terminal statuses (`running`, `queued`, ...) are the
 *   current in-flight numbers, to be read as values rather than through `rate()`.
 * - `broski_llm_calls_total{provider,model,outcome}`, `broski_llm_tokens_total{provider,model,
 *   direction}`: every model call ever stored (outcome ok|error; direction input|output).
 * - `broski_task_duration_seconds{agent_type}`: a histogram of completed tasks' `finished_at -
 *   started_at` (their last run), bucketed in SQL.
 *
 * The `_total` families are exposed as counters whose values come from the database: they are
 * totals over everything ever stored, so they survive restarts of any process and every API
 * replica reports the same value (aggregate them with `max`, not `sum`, across replicas).
 * `broski_queue_jobs{queue,state}` is a gauge read from BullMQ's `getJobCounts`, bounded by
 * QUEUE_COUNTS_TIMEOUT_MS so a lost Redis never hangs a scrape. `http_request_duration_seconds`,
 * `broski_unhandled_errors_total`, `broski_jobs_total` and `broski_job_duration_seconds` are per
 * process, as are prom-client's process defaults; a worker's registry (scope `worker`) has only
 * these, so scraping workers costs them no database read.
 */
@Injectable()
export class MetricsService implements OnModuleInit, JobObserver {
  readonly registry = new Registry();
  private readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  private readonly jobsTotal: Counter<'job' | 'outcome'>;
  private readonly jobDuration: Histogram<'job'>;
  private readonly unhandledCounted: Record<UnhandledErrorKind, number> = {
    rejection: 0,
    exception: 0,
  };
  private unhandledSource: (() => Readonly<Record<UnhandledErrorKind, number>>) | undefined;
  private queues: Array<{ name: string; source: JobCountsSource }> = [];
  /** Set during a scrape so that every family reads one snapshot. */
  private snapshot: WorkSnapshot | undefined;

  constructor(
    private readonly repository: MetricsRepository,
    private readonly moduleRef: ModuleRef,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(METRICS_SCOPE) private readonly scope: MetricsScope,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });

    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Duration of HTTP requests by method, route template and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [...HTTP_DURATION_BUCKETS],
      registers,
    });
    this.jobsTotal = new Counter({
      name: 'broski_jobs_total',
      help: 'Jobs this process handled, by job (plan, task, finalize) and outcome',
      labelNames: ['job', 'outcome'],
      registers,
    });
    this.jobDuration = new Histogram({
      name: 'broski_job_duration_seconds',
      help: 'How long this process took over a job (with the steps it carried), by job',
      labelNames: ['job'],
      buckets: [...JOB_DURATION_BUCKETS],
      registers,
    });
    // Every series from the start, so that ratios of outcomes never divide by a missing series.
    for (const job of Object.keys(JOBS)) {
      for (const outcome of JOB_OUTCOMES) this.jobsTotal.inc({ job, outcome }, 0);
    }
    const unhandledErrors: Counter<'kind'> = new Counter({
      name: 'broski_unhandled_errors_total',
      help: 'Unhandled promise rejections and uncaught exceptions in this process',
      labelNames: ['kind'],
      registers,
      collect: () => {
        unhandledErrors.reset();
        const external = this.unhandledSource?.();
        for (const kind of UNHANDLED_ERROR_KINDS) {
          unhandledErrors.inc({ kind }, this.unhandledCounted[kind] + (external?.[kind] ?? 0));
        }
      },
    });

    if (this.scope === 'api') this.registerWorkFamilies(registers);
  }

  /**
   * The families read from the database and from BullMQ at scrape time: the same in every
   * process, so only the API's registry has them.
   */
  private registerWorkFamilies(registers: Registry[]): void {
    const workflowsTotal: Counter<'status'> = new Counter({
      name: 'broski_workflows_total',
      help: 'Workflows stored, by current status (from the database: every process)',
      labelNames: ['status'],
      registers,
      collect: () => {
        workflowsTotal.reset();
        for (const status of WORKFLOW_STATUSES) workflowsTotal.inc({ status }, 0);
        for (const row of this.work().workflows) {
          workflowsTotal.inc({ status: row.status }, row.count);
        }
      },
    });

    const tasksTotal: Counter<'agent_type' | 'status'> = new Counter({
      name: 'broski_tasks_total',
      help: 'Tasks stored, by agent type and current status (from the database: every process)',
      labelNames: ['agent_type', 'status'],
      registers,
      collect: () => {
        tasksTotal.reset();
        for (const row of this.work().tasks) {
          tasksTotal.inc({ agent_type: row.agentType, status: row.status }, row.count);
        }
      },
    });

    new StoredHistogram({
      name: 'broski_task_duration_seconds',
      help: 'Run time of completed tasks by agent type (from the database: every process)',
      labelNames: ['agent_type'],
      buckets: TASK_DURATION_BUCKETS,
      registers,
      read: () => durationSeries(this.work().durations, TASK_DURATION_BUCKETS.length),
    });

    const llmCallsTotal: Counter<'provider' | 'model' | 'outcome'> = new Counter({
      name: 'broski_llm_calls_total',
      help: 'Model calls by provider, model and outcome (from the database: every process)',
      labelNames: ['provider', 'model', 'outcome'],
      registers,
      collect: () => {
        llmCallsTotal.reset();
        for (const row of this.work().llm) {
          const labels = { provider: row.provider, model: row.model };
          // Both outcomes exist for every model, so error ratios never divide by a missing series.
          llmCallsTotal.inc({ ...labels, outcome: 'ok' }, 0);
          llmCallsTotal.inc({ ...labels, outcome: 'error' }, 0);
          llmCallsTotal.inc({ ...labels, outcome: row.status }, row.calls);
        }
      },
    });

    const llmTokensTotal: Counter<'provider' | 'model' | 'direction'> = new Counter({
      name: 'broski_llm_tokens_total',
      help: 'Tokens the providers reported, by provider, model and direction (from the database)',
      labelNames: ['provider', 'model', 'direction'],
      registers,
      collect: () => {
        llmTokensTotal.reset();
        for (const row of this.work().llm) {
          const labels = { provider: row.provider, model: row.model };
          llmTokensTotal.inc({ ...labels, direction: 'input' }, row.inputTokens);
          llmTokensTotal.inc({ ...labels, direction: 'output' }, row.outputTokens);
        }
      },
    });

    const queueJobs: Gauge<'queue' | 'state'> = new Gauge({
      name: 'broski_queue_jobs',
      help: 'BullMQ jobs per queue and state (absent while Redis does not answer)',
      labelNames: ['queue', 'state'],
      registers,
      collect: async () => {
        queueJobs.reset();
        const readings = await Promise.all(
          this.queues.map(async ({ name, source }) => ({
            name,
            counts: await jobCountsWithin(source, QUEUE_COUNTS_TIMEOUT_MS),
          })),
        );
        for (const { name, counts } of readings) {
          if (counts === undefined) continue;
          for (const state of QUEUE_JOB_STATES) {
            queueJobs.set({ queue: name, state }, counts[state] ?? 0);
          }
        }
      },
    });
  }

  onModuleInit(): void {
    if (this.scope !== 'api' || this.config.queue.driver !== 'bullmq') return;
    this.queues = Object.values(QUEUE_NAMES).map((name) => ({
      name,
      source: this.moduleRef.get<JobCountsSource>(getQueueToken(name), { strict: false }),
    }));
  }

  /** The content type of `scrape()`'s text (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Everything in the Prometheus text format; the database is read once per scrape. */
  async scrape(): Promise<string> {
    if (this.scope !== 'api') return this.registry.metrics();
    this.snapshot = this.readWork();
    try {
      // The registry calls every collect() synchronously, before its first await, so they all
      // read this snapshot (the queue gauge then awaits Redis on its own).
      return this.registry.metrics();
    } finally {
      this.snapshot = undefined;
    }
  }

  /** Records one HTTP request (called from the Fastify onResponse hook). */
  observeHttpRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.httpDuration.observe({ method, route, status_code: String(statusCode) }, seconds);
  }

  /** Records one job this process handled (called by the job processor). */
  observeJob(job: JobName, outcome: JobOutcomeLabel, seconds: number): void {
    this.jobsTotal.inc({ job, outcome });
    this.jobDuration.observe({ job }, seconds);
  }

  /** Counts an unhandled rejection or uncaught exception (for process-level handlers). */
  countUnhandledError(kind: UnhandledErrorKind): void {
    this.unhandledCounted[kind] += 1;
  }

  /**
   * Alternatively, reads process-wide counts kept elsewhere at every scrape (added to those
   * counted here): no listener to register, so nothing outlives this application.
   */
  readUnhandledErrorsFrom(source: () => Readonly<Record<UnhandledErrorKind, number>>): void {
    this.unhandledSource = source;
  }

  private work(): WorkSnapshot {
    return this.snapshot ?? this.readWork();
  }

  private readWork(): WorkSnapshot {
    return {
      workflows: this.repository.countWorkflowsByStatus(),
      tasks: this.repository.countTasksByAgentAndStatus(),
      durations: this.repository.taskDurationBuckets(TASK_DURATION_BUCKETS),
      llm: this.repository.llmCallTotals(),
    };
  }
}

/** Groups SQL bucket rows into one histogram series per agent type. */
function durationSeries(
  rows: readonly TaskDurationBucket[],
  boundCount: number,
): StoredHistogramSeries<'agent_type'>[] {
  const byAgent = new Map<string, { bucketCounts: number[]; sum: number }>();
  for (const row of rows) {
    let series = byAgent.get(row.agentType);
    if (series === undefined) {
      series = { bucketCounts: new Array<number>(boundCount + 1).fill(0), sum: 0 };
      byAgent.set(row.agentType, series);
    }
    const index = Math.min(Math.max(row.bucket, 0), boundCount);
    series.bucketCounts[index] = (series.bucketCounts[index] ?? 0) + row.count;
    series.sum += row.sumSeconds;
  }
  return [...byAgent].map(([agentType, series]) => ({
    labels: { agent_type: agentType },
    bucketCounts: series.bucketCounts,
    sum: series.sum,
  }));
}

/** A queue's job counts, or undefined when Redis fails or does not answer within `ms`. */
async function jobCountsWithin(
  source: JobCountsSource,
  ms: number,
): Promise<Record<string, number> | undefined> {
  return withDeadline(
    source.getJobCounts(...QUEUE_JOB_STATES),
    ms,
    () => new Error('timeout'),
  ).catch(() => undefined);
}

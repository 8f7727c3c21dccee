import { jobIdOf, type JobHandlers, type JobName, type JobPayload, type QueueKey } from './jobs';

export interface EnqueueOptions {
  delayMs?: number;
}

/**
 * The queue port. The orchestrator only ever talks to this; the driver (inline or BullMQ) is
 * chosen by configuration. Delivery is at least once: handlers are idempotent.
 */
export abstract class JobQueue {
  abstract readonly driver: 'inline' | 'bullmq';

  /** Adds a job unless one with the same deterministic id is waiting, delayed or running. */
  abstract enqueue<N extends JobName>(
    name: N,
    payload: JobPayload<N>,
    options?: EnqueueOptions,
  ): Promise<void>;

  /** Whether a job with this id is waiting, delayed or running (the reconciler asks). */
  isLive<N extends JobName>(name: N, payload: JobPayload<N>): Promise<boolean> {
    return this.isLiveId(jobIdOf(name, payload));
  }

  /** `isLive` by the job's catalogue id (`task:<id>`, `plan:<workflowId>`, `finalize:<id>`). */
  abstract isLiveId(catalogueId: string): Promise<boolean>;

  /** Starts consuming the given queues with these handlers. */
  abstract consume(handlers: JobHandlers, queues: readonly QueueKey[]): Promise<void>;

  /** Stops taking jobs, lets running ones finish within `graceMs`, then aborts them. */
  abstract stop(graceMs: number): Promise<void>;

  /** Whether this process consumes jobs. */
  abstract get consuming(): boolean;
}

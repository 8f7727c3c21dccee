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

  /** Slots moved from one queue to the other while jobs run the other queue's work. */
  private readonly lent: Record<QueueKey, number> = { workflows: 0, tasks: 0 };

  /** `concurrency`: how many jobs of each queue this process runs at once (WORKER_CONCURRENCY). */
  protected constructor(private readonly concurrency: number) {}

  /** How many jobs of `queue` this process runs at once now, with the slots lent counted. */
  protected capacity(queue: QueueKey): number {
    return this.concurrency + this.lent[queue];
  }

  /** The driver applies a new `capacity(queue)`. */
  protected abstract capacityChanged(queue: QueueKey): void;

  /** Whether `borrowSlot(home, kind)` would give a slot now. */
  canLendSlot(kind: QueueKey): boolean {
    return this.capacity(kind) > 1;
  }

  /**
   * A job of queue `home` is about to run work of queue `kind` itself (a step that the plan job
   * goes on with, the final review that a step's job goes on with). One slot moves from `kind` to
   * `home` until the returned function is called: `kind` takes one job fewer meanwhile, and `home`
   * one more in place of the slot this job holds. So each queue keeps running as much of its own
   * work at once as before, whatever the jobs of the other carry. Undefined when `kind` has a
   * single slot left (the work then goes to its queue); `home === kind` needs no slot.
   */
  borrowSlot(home: QueueKey, kind: QueueKey): (() => void) | undefined {
    if (home === kind) return () => undefined;
    if (!this.canLendSlot(kind)) return undefined;
    this.moveSlot(kind, home);
    let returned = false;
    return () => {
      if (returned) return;
      returned = true;
      this.moveSlot(home, kind);
    };
  }

  private moveSlot(from: QueueKey, to: QueueKey): void {
    this.lent[from] -= 1;
    this.lent[to] += 1;
    this.capacityChanged(from);
    this.capacityChanged(to);
  }

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

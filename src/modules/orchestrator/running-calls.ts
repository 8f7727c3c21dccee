import { Injectable } from '@nestjs/common';

export type AbortReason = 'cancelled' | 'shutdown';

export class RunAbortedError extends Error {
  constructor(readonly reason: AbortReason) {
    super(reason === 'cancelled' ? 'the workflow was cancelled' : 'the process is shutting down');
    this.name = 'RunAbortedError';
  }
}

interface RunningCall {
  workflowId: string;
  controller: AbortController;
  shutdownSignal: AbortSignal | undefined;
}

/**
 * Model calls in flight in this process, so a cancel can abort them at once. A queue driver's
 * shutdown signal gets one listener, however many calls run under it (one each would pass
 * Node's limit of 10 listeners, with a warning on stderr, as soon as 11 steps ran at once).
 */
@Injectable()
export class RunningCalls {
  private readonly calls = new Map<string, RunningCall>();
  private readonly watched = new WeakSet<AbortSignal>();

  start(key: string, workflowId: string, shutdownSignal?: AbortSignal): AbortController {
    const controller = new AbortController();
    this.calls.set(key, { workflowId, controller, shutdownSignal });
    if (shutdownSignal?.aborted === true) {
      controller.abort(new RunAbortedError('shutdown'));
    } else if (shutdownSignal !== undefined && !this.watched.has(shutdownSignal)) {
      this.watched.add(shutdownSignal);
      shutdownSignal.addEventListener('abort', () => this.abortUnder(shutdownSignal), {
        once: true,
      });
    }
    return controller;
  }

  finish(key: string): void {
    this.calls.delete(key);
  }

  /** Aborts every call started under the given shutdown signal. */
  private abortUnder(shutdownSignal: AbortSignal): void {
    for (const call of this.calls.values()) {
      if (call.shutdownSignal === shutdownSignal && !call.controller.signal.aborted) {
        call.controller.abort(new RunAbortedError('shutdown'));
      }
    }
  }

  /** Aborts every call of the workflow in this process; returns how many. */
  cancelWorkflow(workflowId: string): number {
    let aborted = 0;
    for (const call of this.calls.values()) {
      if (call.workflowId === workflowId && !call.controller.signal.aborted) {
        call.controller.abort(new RunAbortedError('cancelled'));
        aborted += 1;
      }
    }
    return aborted;
  }

  get size(): number {
    return this.calls.size;
  }
}

export function abortReasonOf(signal: AbortSignal): AbortReason | undefined {
  if (!signal.aborted) return undefined;
  // AbortSignal.reason is typed `any` by the DOM typings.
  // type-coverage:ignore-next-line
  const reason: unknown = signal.reason;
  return reason instanceof RunAbortedError ? reason.reason : 'cancelled';
}

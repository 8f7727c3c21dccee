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
  release: () => void;
}

/** Model calls in flight in this process, so a cancel can abort them at once. */
@Injectable()
export class RunningCalls {
  private readonly calls = new Map<string, RunningCall>();

  start(key: string, workflowId: string, shutdownSignal?: AbortSignal): AbortController {
    const controller = new AbortController();
    const onShutdown = () => controller.abort(new RunAbortedError('shutdown'));
    if (shutdownSignal?.aborted === true) onShutdown();
    else shutdownSignal?.addEventListener('abort', onShutdown, { once: true });
    const release = () => shutdownSignal?.removeEventListener('abort', onShutdown);
    this.calls.set(key, { workflowId, controller, release });
    return controller;
  }

  finish(key: string): void {
    this.calls.get(key)?.release();
    this.calls.delete(key);
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

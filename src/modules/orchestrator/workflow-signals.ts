import { Injectable } from '@nestjs/common';
import { EventEmitter } from 'node:events';

/**
 * In-process wake-ups: whoever writes events for a workflow notifies, and the live stream and
 * `?wait=` wake at once instead of waiting for their next poll. Events written by other
 * processes are still found by polling the database.
 */
@Injectable()
export class WorkflowSignals {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  notify(workflowId: string): void {
    this.emitter.emit(workflowId);
  }

  /** Resolves on the next notification for the workflow, after `timeoutMs`, or on abort. */
  wait(workflowId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted === true) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.emitter.off(workflowId, done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.emitter.on(workflowId, done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

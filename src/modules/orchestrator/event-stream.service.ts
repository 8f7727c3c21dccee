import { Injectable } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { LifecycleState } from '../health/lifecycle.state';
import { TERMINAL_EVENT_TYPES } from '../workflows/workflow-event-types';
import { isTerminalWorkflow } from '../workflows/workflow-status';
import { WorkflowsService } from '../workflows/workflows.service';
import { WorkflowSignals } from './workflow-signals';

const POLL_MS = 250;
const HEARTBEAT_MS = 15_000;
const BATCH = 500;

/**
 * Server-sent events for one workflow: replays what is stored after `after`, then follows new
 * events as they are written — by this process (woken at once) or by any other (found by polling
 * the database) — and ends after the terminal event.
 */
@Injectable()
export class EventStreamService {
  constructor(
    private readonly reader: WorkflowsService,
    private readonly signals: WorkflowSignals,
    private readonly lifecycle: LifecycleState,
  ) {}

  async stream(
    workflowId: string,
    after: number,
    raw: ServerResponse,
    headers: Readonly<Record<string, number | string | string[] | undefined>>,
    closed: AbortSignal,
  ): Promise<void> {
    this.reader.getRow(workflowId);
    // The reply's own headers first; the stream's below take precedence over them.
    for (const [name, value] of Object.entries(headers)) {
      if (value !== undefined) raw.setHeader(name, value);
    }
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    raw.write('retry: 2000\n\n');
    let cursor = after;
    let lastWrite = Date.now();
    while (!closed.aborted && !this.lifecycle.isDraining) {
      const events = this.reader.eventsAfter(workflowId, cursor, BATCH);
      for (const event of events) {
        raw.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
        cursor = event.id;
        lastWrite = Date.now();
        if (TERMINAL_EVENT_TYPES.includes(event.type)) {
          raw.end();
          return;
        }
      }
      if (events.length === BATCH) continue;
      // Resumed after the terminal event (a reconnecting EventSource): nothing more will come.
      if (events.length === 0 && isTerminalWorkflow(this.reader.getRow(workflowId).status)) break;
      if (Date.now() - lastWrite >= HEARTBEAT_MS) {
        raw.write(': keep-alive\n\n');
        lastWrite = Date.now();
      }
      await this.signals.wait(workflowId, POLL_MS, closed);
    }
    if (!raw.writableEnded) raw.end();
  }
}

import type { WorkflowDetail } from '../workflows/workflows.contract';
import { ApiError, ExitCode } from './cli-errors';
import type { BroskiClient } from './client/broski-client';
import { formatPlan, formatWorkflowResult } from './output/format';
import type { Output } from './output/output';
import { createRenderer } from './progress/progress-renderers';
import { applyEvent, applyTasks, newProgress } from './progress/progress-state';

export interface FollowOptions {
  /** Approve the plan when the workflow waits for approval (`run --approve`). */
  autoApprove: boolean;
}

export type FollowOutcome =
  | { kind: 'finished' }
  | { kind: 'awaiting_approval' }
  | { kind: 'detached'; signal: NodeJS.Signals };

/**
 * Follows a workflow from its first event to its last, driving the live view. Ctrl-C (or
 * SIGTERM) detaches: the follow stops, the workflow goes on (or, in-process, is handed back to be
 * resumed); a second Ctrl-C exits at once.
 */
export async function followWorkflow(
  client: BroskiClient,
  workflowId: string,
  output: Output,
  options: FollowOptions,
): Promise<FollowOutcome> {
  const progress = newProgress(workflowId);
  const renderer = await createRenderer(output, progress);
  const controller = new AbortController();
  let detachedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (detachedBy !== undefined) process.exit(ExitCode.INTERRUPTED);
    detachedBy = signal;
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for await (const event of client.followEvents(workflowId, 0, controller.signal)) {
      applyEvent(progress, event);
      if (event.type === 'workflow.planned') {
        applyTasks(progress, (await client.getWorkflow(workflowId)).tasks);
      }
      renderer.event(event, progress);
      if (event.type === 'workflow.awaiting_approval') {
        // A replayed event may be stale: act only if the workflow still waits.
        const current = await client.getWorkflow(workflowId);
        if (current.status !== 'awaiting_approval') continue;
        if (!options.autoApprove) return { kind: 'awaiting_approval' };
        await approveIfWaiting(client, workflowId);
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    renderer.stop(progress);
  }
  return detachedBy === undefined ? { kind: 'finished' } : { kind: 'detached', signal: detachedBy };
}

async function approveIfWaiting(client: BroskiClient, workflowId: string): Promise<void> {
  try {
    await client.approve(workflowId);
  } catch (error) {
    // Someone else approved, rejected or cancelled it meanwhile: the events tell what follows.
    if (!(error instanceof ApiError && error.status === 409)) throw error;
  }
}

/** The exit code of a workflow's final state. */
export function exitCodeOf(workflow: WorkflowDetail): ExitCode {
  return workflow.status === 'failed' || workflow.status === 'cancelled'
    ? ExitCode.WORKFLOW_FAILED
    : ExitCode.OK;
}

/**
 * For a workflow that an in-process command left to run without following it (`run --detach`,
 * `approve --detach`): nothing runs it until something processes this database.
 */
export function runsWhenFollowed(workflowId: string): string {
  return `it runs when you follow it (broski workflows show ${workflowId} --follow) or under broski serve / broski worker.`;
}

/**
 * Prints how a follow ended — the result, the plan waiting for approval, or how to follow again
 * after a detach — and answers the exit code.
 */
export async function reportFollow(
  client: BroskiClient,
  workflowId: string,
  output: Output,
  outcome: FollowOutcome,
): Promise<ExitCode> {
  const c = output.errColors;
  if (outcome.kind === 'detached') {
    const status = await client.getWorkflow(workflowId).then(
      (w) => w.status.replace('_', ' '),
      () => undefined,
    );
    output.note('');
    output.note(
      `Detached from workflow ${workflowId}${status === undefined ? '' : ` (${status})`}; it was not cancelled.`,
    );
    if (client.runsWorkflows) {
      output.note(
        c.dim(
          'It ran in this process: its unfinished steps resume when you follow it again, or under `broski serve` / `broski worker` on this database.',
        ),
      );
    }
    output.note(`  Follow it again:  broski workflows show ${workflowId} --follow`);
    output.note(`  Its events:       broski workflows events ${workflowId} --follow`);
    output.note(`  Cancel it:        broski workflows cancel ${workflowId}`);
    return ExitCode.INTERRUPTED;
  }
  const workflow = await client.getWorkflow(workflowId);
  if (output.json) {
    output.printJson(workflow);
    return exitCodeOf(workflow);
  }
  if (outcome.kind === 'awaiting_approval' || workflow.status === 'awaiting_approval') {
    output.line('');
    output.line(output.colors.bold(`The plan of workflow ${workflowId} waits for approval:`));
    output.lines(formatPlan(workflow, output.colors));
    output.note('');
    output.note(`  Approve and run it:  broski workflows approve ${workflowId}`);
    output.note(`  Reject it:           broski workflows reject ${workflowId}`);
    return ExitCode.OK;
  }
  output.line('');
  output.lines(formatWorkflowResult(workflow, output.colors));
  return exitCodeOf(workflow);
}

import { Command, Option, SubCommand } from 'nest-commander';
import { z } from 'zod';
import { WORKFLOW_STATUSES } from '../../workflows/workflow-status';
import { listWorkflowsQuerySchema, type WorkflowDetail } from '../../workflows/workflows.contract';
import { ExitCode } from '../cli-errors';
import { BroskiCommand, CommandGroup, intOption, parseInput, parseOptions } from '../cli-command';
import { PagedListCommand } from '../paged-list-command';
import type { CliSession } from '../cli-session';
import type { BroskiClient } from '../client/broski-client';
import { exitCodeOf, followWorkflow, reportFollow, runsWhenFollowed } from '../follow';
import {
  formatEventLine,
  formatTimestamp,
  formatWorkflowResult,
  workflowRows,
} from '../output/format';

const idSchema = z.uuid({ error: 'must be a workflow id (a UUID)' });

function workflowId(raw: string | undefined): string {
  return parseInput(idSchema, raw, () => 'workflow id');
}

const followSchema = z.object({ follow: z.boolean().default(false) });
const detachSchema = z.object({ detach: z.boolean().default(false) });

@SubCommand({
  name: 'list',
  description: 'List workflows, newest first',
  aliases: ['ls'],
})
export class WorkflowsListCommand extends PagedListCommand {
  protected async execute(
    session: CliSession,
    _args: string[],
    raw: Record<string, unknown>,
  ): Promise<ExitCode> {
    const query = parseInput(listWorkflowsQuerySchema, raw);
    const client = await session.connect(false);
    const page = await client.listWorkflows(query);
    const { output } = session;
    if (output.json) {
      output.printJson(page);
      return ExitCode.OK;
    }
    if (page.items.length === 0) {
      output.note(
        query.status === undefined ? 'No workflows yet.' : `No ${query.status} workflows.`,
      );
      return ExitCode.OK;
    }
    const requestWidth = Math.max(20, output.width - 90);
    output.line(
      output.table(
        ['ID', 'STATUS', 'STEPS', 'CREATED', 'REQUEST'],
        workflowRows(page.items, output.colors, requestWidth),
      ),
    );
    if (page.nextCursor !== null) {
      output.note(`More: broski workflows list --cursor ${page.nextCursor}`);
    }
    return ExitCode.OK;
  }

  @Option({
    flags: '--status <status>',
    description: `only workflows in this status (${WORKFLOW_STATUSES.join(', ')})`,
    choices: [...WORKFLOW_STATUSES],
  })
  parseStatus(value: string): string {
    return value;
  }
}

@SubCommand({
  name: 'show',
  arguments: '<id>',
  description: 'Show a workflow: its steps, result and usage (--follow: live until it ends)',
})
export class WorkflowsShowCommand extends BroskiCommand {
  protected async execute(
    session: CliSession,
    [id]: string[],
    raw: Record<string, unknown>,
  ): Promise<ExitCode> {
    const target = workflowId(id);
    const { follow } = parseOptions(followSchema, raw);
    const client = await session.connect(follow);
    if (follow) {
      const workflow = await client.getWorkflow(target);
      printHeader(session, workflow);
      const outcome = await followWorkflow(client, target, session.output, { autoApprove: false });
      return reportFollow(client, target, session.output, outcome);
    }
    printWorkflow(session, await client.getWorkflow(target));
    return ExitCode.OK;
  }

  @Option({ flags: '-f, --follow', description: 'show live progress until the workflow ends' })
  parseFollow(): boolean {
    return true;
  }
}

@SubCommand({
  name: 'events',
  arguments: '<id>',
  description: "A workflow's events, oldest first (--follow: live until it ends)",
})
export class WorkflowsEventsCommand extends BroskiCommand {
  protected async execute(
    session: CliSession,
    [id]: string[],
    raw: Record<string, unknown>,
  ): Promise<ExitCode> {
    const target = workflowId(id);
    const options = parseOptions(
      z.object({ follow: z.boolean().default(false), after: z.number().int().min(0).default(0) }),
      raw,
    );
    const client = await session.connect(options.follow);
    const { output } = session;
    if (options.follow) return followEvents(client, target, options.after, session);
    const page = await client.listEvents(target, { after: options.after, limit: 1000 });
    if (output.json) output.printJson(page);
    else for (const event of page.items) output.line(formatEventLine(event, output.colors));
    if (page.nextCursor !== null && !output.json) {
      output.note(`More: broski workflows events ${target} --after ${page.nextCursor}`);
    }
    return ExitCode.OK;
  }

  @Option({
    flags: '-f, --follow',
    description: 'keep streaming new events until the workflow ends',
  })
  parseFollow(): boolean {
    return true;
  }

  @Option({ flags: '--after <eventId>', description: 'only events after this event id' })
  parseAfter(value: string): number {
    return intOption(value, 0, Number.MAX_SAFE_INTEGER);
  }
}

/** Streams events as lines (NDJSON with --json) until the terminal one, or Ctrl-C. */
async function followEvents(
  client: BroskiClient,
  id: string,
  after: number,
  session: CliSession,
): Promise<ExitCode> {
  const { output } = session;
  const controller = new AbortController();
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(ExitCode.INTERRUPTED);
    interrupted = true;
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for await (const event of client.followEvents(id, after, controller.signal)) {
      output.line(output.json ? JSON.stringify(event) : formatEventLine(event, output.colors));
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (interrupted) {
    output.note(`Stopped following workflow ${id}; it was not cancelled.`);
    return ExitCode.INTERRUPTED;
  }
  return exitCodeOf(await client.getWorkflow(id));
}

/** cancel, approve, reject, retry: one action on one workflow. */
abstract class WorkflowActionCommand extends BroskiCommand {
  protected abstract act(client: BroskiClient, id: string): Promise<WorkflowDetail>;
  protected abstract readonly done: string;
  /** Actions that start work follow it to the end like `run` (unless --detach). */
  protected readonly startsWork: boolean = false;

  protected async execute(
    session: CliSession,
    [id]: string[],
    raw: Record<string, unknown>,
  ): Promise<ExitCode> {
    const target = workflowId(id);
    const detach = this.startsWork ? parseOptions(detachSchema, raw).detach : true;
    const client = await session.connect(!detach);
    const workflow = await this.act(client, target);
    const { output } = session;
    if (detach) {
      if (output.json) output.printJson(workflow);
      else
        output.line(
          `${this.done} workflow ${workflow.id}: it is ${workflow.status.replace('_', ' ')}.`,
        );
      // Not followed here, nothing runs it in this process (as with `run --detach`).
      if (this.startsWork && client.runsWorkflows)
        output.note(`Nothing runs it yet: ${runsWhenFollowed(workflow.id)}`);
      return ExitCode.OK;
    }
    if (!output.json) output.line(output.colors.dim(`${this.done} workflow ${workflow.id}`));
    const outcome = await followWorkflow(client, target, output, { autoApprove: false });
    return reportFollow(client, target, output, outcome);
  }
}

/** An action that starts work (approve, retry): followed to the end like `run`, unless --detach. */
abstract class FollowingActionCommand extends WorkflowActionCommand {
  protected override readonly startsWork = true;

  @Option({ flags: '-d, --detach', description: 'do not follow the workflow' })
  parseDetach(): boolean {
    return true;
  }
}

@SubCommand({
  name: 'cancel',
  arguments: '<id>',
  description: 'Cancel a workflow (steps running are aborted)',
})
export class WorkflowsCancelCommand extends WorkflowActionCommand {
  protected readonly done = 'Cancelled';
  protected act(client: BroskiClient, id: string): Promise<WorkflowDetail> {
    return client.cancel(id);
  }
}

@SubCommand({
  name: 'reject',
  arguments: '<id>',
  description: 'Reject a plan that waits for approval (the workflow is cancelled)',
})
export class WorkflowsRejectCommand extends WorkflowActionCommand {
  protected readonly done = 'Rejected';
  protected act(client: BroskiClient, id: string): Promise<WorkflowDetail> {
    return client.reject(id);
  }
}

@SubCommand({
  name: 'approve',
  arguments: '<id>',
  description: 'Approve a plan that waits for approval, then follow it (--detach: return at once)',
})
export class WorkflowsApproveCommand extends FollowingActionCommand {
  protected readonly done = 'Approved';
  protected act(client: BroskiClient, id: string): Promise<WorkflowDetail> {
    return client.approve(id);
  }
}

@SubCommand({
  name: 'retry',
  arguments: '<id>',
  description: "Run a failed workflow's failed and cancelled steps again, then follow it",
})
export class WorkflowsRetryCommand extends FollowingActionCommand {
  protected readonly done = 'Retrying';
  protected act(client: BroskiClient, id: string): Promise<WorkflowDetail> {
    return client.retry(id);
  }
}

@Command({
  name: 'workflows',
  description: 'List, inspect and control workflows',
  aliases: ['wf'],
  subCommands: [
    WorkflowsListCommand,
    WorkflowsShowCommand,
    WorkflowsEventsCommand,
    WorkflowsCancelCommand,
    WorkflowsApproveCommand,
    WorkflowsRejectCommand,
    WorkflowsRetryCommand,
  ],
})
export class WorkflowsCommand extends CommandGroup {}

function printHeader(session: CliSession, workflow: WorkflowDetail): void {
  const { output } = session;
  if (output.json) return;
  output.line(
    output.colors.dim(`Workflow ${workflow.id} · ${formatTimestamp(workflow.createdAt)}`),
  );
  output.line(`${output.colors.dim('Request:')} ${workflow.request}`);
}

function printWorkflow(session: CliSession, workflow: WorkflowDetail): void {
  const { output } = session;
  if (output.json) {
    output.printJson(workflow);
    return;
  }
  const c = output.colors;
  output.lines(formatWorkflowResult(workflow, c));
  output.line(
    c.dim(
      `Created ${formatTimestamp(workflow.createdAt)} · started ${formatTimestamp(workflow.startedAt)} · finished ${formatTimestamp(workflow.finishedAt)}`,
    ),
  );
  if (workflow.status === 'awaiting_approval') {
    output.note(
      `Approve: broski workflows approve ${workflow.id} · reject: broski workflows reject ${workflow.id}`,
    );
  } else if (workflow.status === 'failed') {
    output.note(`Retry the failed steps: broski workflows retry ${workflow.id}`);
  }
}

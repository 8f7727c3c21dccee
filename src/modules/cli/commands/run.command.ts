import { Command, Option } from 'nest-commander';
import { z } from 'zod';
import { submitWorkflowSchema } from '../../workflows/workflows.contract';
import { ExitCode } from '../cli-errors';
import { BroskiCommand, kebab, listOption, parseInput, parseOptions } from '../cli-command';
import type { CliSession } from '../cli-session';
import { followWorkflow, reportFollow, runsWhenFollowed } from '../follow';

const runOptionsSchema = z.object({
  detach: z.boolean().default(false),
  approve: z.boolean().default(false),
  requireApproval: z.boolean().default(false),
  agents: z.array(z.string()).optional(),
});

/** `broski run "<request>"`: submit, follow live, print the result. */
@Command({
  name: 'run',
  arguments: '<request>',
  argsDescription: { request: 'what you want done, in plain language (quote it)' },
  description: 'Submit a request, follow its progress live and print the result',
})
export class RunCommand extends BroskiCommand {
  protected async execute(
    session: CliSession,
    [request]: string[],
    raw: Record<string, unknown>,
  ): Promise<ExitCode> {
    const options = parseOptions(runOptionsSchema, raw);
    const input = parseInput(
      submitWorkflowSchema,
      {
        request,
        // --approve implies the plan is shown before it runs; it is approved as soon as it forms.
        requireApproval: options.requireApproval,
        ...(options.agents === undefined ? {} : { agents: options.agents }),
      },
      (path) => (path === 'request' ? 'the request' : `--${kebab(path.split('.')[0] ?? path)}`),
    );
    const { output } = session;
    // A detached in-process submission only stores the workflow: it runs when something
    // processes this database (a later in-process follow, `broski serve`, `broski worker`).
    const client = await session.connect(!options.detach);
    const workflow = await client.submit(input);
    if (options.detach) {
      if (output.json) output.printJson(workflow);
      else output.line(workflow.id);
      output.note(
        client.runsWorkflows
          ? `Stored workflow ${workflow.id}: ${runsWhenFollowed(workflow.id)}`
          : `Submitted workflow ${workflow.id}. Follow it: broski workflows show ${workflow.id} --follow`,
      );
      return ExitCode.OK;
    }
    if (!output.json) {
      output.line(
        output.colors.dim(
          `Workflow ${workflow.id} · ${client.mode === 'http' ? client.target : 'in-process'}`,
        ),
      );
    }
    const outcome = await followWorkflow(client, workflow.id, output, {
      autoApprove: options.approve,
    });
    return reportFollow(client, workflow.id, output, outcome);
  }

  @Option({ flags: '-d, --detach', description: 'submit and print the workflow id at once' })
  parseDetach(): boolean {
    return true;
  }

  @Option({
    flags: '--approve',
    description: 'approve the plan automatically if it waits for approval',
  })
  parseApprove(): boolean {
    return true;
  }

  @Option({
    flags: '--require-approval',
    description: 'stop after planning until the plan is approved (see --approve)',
  })
  parseRequireApproval(): boolean {
    return true;
  }

  @Option({
    flags: '--agents <types>',
    description: 'plan only with these specialist agents (comma-separated types)',
  })
  parseAgents(value: string): string[] {
    return listOption(value);
  }
}

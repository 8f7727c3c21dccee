import { InvalidArgumentError } from 'commander';
import { Command, Option, SubCommand } from 'nest-commander';
import { z } from 'zod';
import {
  agentTypeSchema,
  createAgentSchema,
  listAgentsQuerySchema,
  updateAgentSchema,
  type Agent,
} from '../../agents/agents.contract';
import { AGENT_STATUSES } from '../../agents/agent-status';
import { ExitCode, UsageError } from '../cli-errors';
import { BroskiCommand, CommandGroup, intOption, parseInput, parseOptions } from '../cli-command';
import { PagedListCommand } from '../paged-list-command';
import type { CliSession } from '../cli-session';
import { agentRows, formatAgent } from '../output/format';

const RESET = 'default';
/** `default` (RESET) on the command line clears the field (null: the defaults apply). */
const orReset = <T extends z.ZodType>(schema: T) =>
  z.union([z.literal(RESET).transform(() => null), schema]).optional();

/** Values of the agent flags as their handlers leave them. */
const agentFieldsSchema = z.object({
  type: z.string().optional(),
  name: z.string().optional(),
  description: z.string().optional(),
  systemPrompt: z.string().optional(),
  model: orReset(z.string()),
  temperature: orReset(z.number()),
  maxOutputTokens: orReset(z.number()),
  enable: z.boolean().optional(),
});
type AgentFields = z.output<typeof agentFieldsSchema>;

function agentType(raw: string | undefined): string {
  return parseInput(agentTypeSchema, raw, () => 'agent type');
}

function printAgent(session: CliSession, agent: Agent, note?: string): void {
  const { output } = session;
  if (output.json) {
    output.printJson(agent);
    return;
  }
  if (note !== undefined) output.line(output.colors.green(note));
  output.lines(formatAgent(agent, output.colors));
}

/** The flags shared by `agents create` and `agents update`. */
abstract class AgentFieldsCommand extends BroskiCommand {
  @Option({ flags: '--name <name>', description: 'display name' })
  parseName(value: string): string {
    return value;
  }

  @Option({
    flags: '--description <text>',
    description: 'what the agent is good at (the planner reads it)',
  })
  parseDescription(value: string): string {
    return value;
  }

  @Option({ flags: '--system-prompt <text>', description: 'the system prompt of its model calls' })
  parseSystemPrompt(value: string): string {
    return value;
  }

  @Option({
    flags: '--model <provider:model>',
    description: `"offline", "openai:<model>" or "anthropic:<model>"; "${RESET}" uses DEFAULT_MODEL`,
  })
  parseModel(value: string): string {
    return value;
  }

  @Option({ flags: '--temperature <t>', description: `0–2; "${RESET}" for the provider's` })
  parseTemperature(value: string): number | typeof RESET {
    // commander treats null as "no value": RESET stays a string until the schema clears it.
    if (value === RESET) return RESET;
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isFinite(parsed)) {
      throw new InvalidArgumentError('must be a number from 0 to 2.');
    }
    return parsed;
  }

  @Option({
    flags: '--max-output-tokens <n>',
    description: `limit of each answer; "${RESET}" for none`,
  })
  parseMaxOutputTokens(value: string): number | typeof RESET {
    return value === RESET ? RESET : intOption(value, 1, 200_000);
  }

  protected fields(raw: Record<string, unknown>): AgentFields {
    return parseOptions(agentFieldsSchema, raw);
  }
}

@SubCommand({ name: 'list', aliases: ['ls'], description: 'List agent profiles' })
export class AgentsListCommand extends PagedListCommand {
  protected async execute(
    session: CliSession,
    _args: string[],
    raw: Record<string, unknown>,
  ): Promise<ExitCode> {
    const query = parseInput(listAgentsQuerySchema, raw);
    const client = await session.connect(false);
    const page = await client.listAgents(query);
    const { output } = session;
    if (output.json) {
      output.printJson(page);
      return ExitCode.OK;
    }
    output.line(
      output.table(
        ['TYPE', 'NAME', 'STATUS', 'MODEL', 'VERSION', 'DESCRIPTION'],
        agentRows(page.items, output.colors, Math.max(20, output.width - 70)),
      ),
    );
    if (page.nextCursor !== null)
      output.note(`More: broski agents list --cursor ${page.nextCursor}`);
    return ExitCode.OK;
  }

  @Option({
    flags: '--status <status>',
    description: `only agents in this status (${AGENT_STATUSES.join(', ')})`,
    choices: [...AGENT_STATUSES],
  })
  parseStatus(value: string): string {
    return value;
  }
}

@SubCommand({ name: 'show', arguments: '<type>', description: 'Show one agent profile' })
export class AgentsShowCommand extends BroskiCommand {
  protected async execute(session: CliSession, [type]: string[]): Promise<ExitCode> {
    const client = await session.connect(false);
    printAgent(session, await client.getAgent(agentType(type)));
    return ExitCode.OK;
  }
}

@SubCommand({
  name: 'create',
  description: 'Create an agent profile (--type, --name and --system-prompt are required)',
})
export class AgentsCreateCommand extends AgentFieldsCommand {
  protected async execute(
    session: CliSession,
    _args: string[],
    raw: Record<string, unknown>,
  ): Promise<ExitCode> {
    const { enable: _enable, ...fields } = this.fields(raw);
    const input = parseInput(createAgentSchema, dropUndefined(fields));
    const client = await session.connect(false);
    const agent = await client.createAgent(input);
    printAgent(session, agent, `Created agent ${agent.type}.`);
    return ExitCode.OK;
  }

  @Option({ flags: '--type <type>', description: 'unique slug, e.g. "translator"' })
  parseType(value: string): string {
    return value;
  }
}

@SubCommand({
  name: 'update',
  arguments: '[type]',
  description: 'Change fields of an agent profile (its version goes up by one)',
})
export class AgentsUpdateCommand extends AgentFieldsCommand {
  protected async execute(
    session: CliSession,
    [positional]: string[],
    raw: Record<string, unknown>,
  ): Promise<ExitCode> {
    const { type: flagType, enable, ...fields } = this.fields(raw);
    if (positional !== undefined && flagType !== undefined && positional !== flagType) {
      throw new UsageError(`two agent types given: '${positional}' and --type '${flagType}'`);
    }
    const given = positional ?? flagType;
    if (given === undefined) throw new UsageError("which agent? 'broski agents update <type> …'");
    const type = agentType(given);
    const changes = dropUndefined({ ...fields, ...(enable === true ? { status: 'active' } : {}) });
    if (Object.keys(changes).length === 0) {
      throw new UsageError(
        'nothing to change: give at least one of --name, --description, --system-prompt, --model, --temperature, --max-output-tokens, --enable',
      );
    }
    const input = parseInput(updateAgentSchema, changes);
    const client = await session.connect(false);
    const agent = await client.updateAgent(type, input);
    printAgent(session, agent, `Updated agent ${agent.type} (version ${agent.version}).`);
    return ExitCode.OK;
  }

  @Option({
    flags: '--type <type>',
    description: 'the agent to change (or give it as the argument)',
  })
  parseType(value: string): string {
    return value;
  }

  @Option({ flags: '--enable', description: 're-enable a disabled agent' })
  parseEnable(): boolean {
    return true;
  }
}

@SubCommand({
  name: 'disable',
  arguments: '<type>',
  description: 'Disable an agent: it gets no new steps; its history stays',
})
export class AgentsDisableCommand extends BroskiCommand {
  protected async execute(session: CliSession, [type]: string[]): Promise<ExitCode> {
    const client = await session.connect(false);
    const agent = await client.disableAgent(agentType(type));
    printAgent(session, agent, `Disabled agent ${agent.type}.`);
    return ExitCode.OK;
  }
}

@Command({
  name: 'agents',
  description: 'Manage agent profiles',
  subCommands: [
    AgentsListCommand,
    AgentsShowCommand,
    AgentsCreateCommand,
    AgentsUpdateCommand,
    AgentsDisableCommand,
  ],
})
export class AgentsCommand extends CommandGroup {}

/** The flags given (commander leaves the others undefined). */
function dropUndefined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

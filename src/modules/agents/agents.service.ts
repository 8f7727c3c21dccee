import { Injectable, type OnModuleInit } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { DomainError, ErrorCode } from '../../common/domain-error';
import { isUuid, newId, nowIso } from '../../common/ids';
import { decodeCursor, toPage, type Page } from '../../common/pagination';
import type { Agent, CreateAgentInput, ListAgentsQuery, UpdateAgentInput } from './agents.contract';
import { AgentsRepository } from './agents.repository';
import type { AgentRow } from './agents.table';
import { BUILTIN_AGENTS, REQUIRED_AGENT_TYPES } from './builtin-agents';

export function toAgent(row: AgentRow): Agent {
  return {
    id: row.id,
    type: row.type,
    name: row.name,
    version: row.version,
    status: row.status,
    description: row.description,
    systemPrompt: row.systemPrompt,
    model: row.model,
    temperature: row.temperature,
    maxOutputTokens: row.maxOutputTokens,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** The agent registry: profiles the orchestrator plans with and the steps run as. */
@Injectable()
export class AgentsService implements OnModuleInit {
  constructor(
    private readonly repository: AgentsRepository,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(AgentsService.name);
  }

  onModuleInit(): void {
    const seeded = this.seedBuiltins();
    if (seeded.length > 0) this.logger.info({ agents: seeded }, 'seeded built-in agents');
  }

  /** Inserts the built-in agents that do not exist yet; returns the types it inserted. */
  seedBuiltins(): string[] {
    const inserted: string[] = [];
    for (const builtin of BUILTIN_AGENTS) {
      const now = nowIso();
      const created = this.repository.insert({
        id: newId(),
        type: builtin.type,
        name: builtin.name,
        description: builtin.description,
        systemPrompt: builtin.systemPrompt,
        temperature: builtin.temperature,
        createdAt: now,
        updatedAt: now,
      });
      if (created) inserted.push(builtin.type);
    }
    return inserted;
  }

  list(query: ListAgentsQuery): Page<Agent> {
    const rows = this.repository.list({
      status: query.status,
      afterId: decodeCursor(query.cursor, isUuid),
      limit: query.limit + 1,
    });
    return toPage(rows, query.limit, toAgent, (row) => row.id);
  }

  get(type: string): Agent {
    return toAgent(this.getRow(type));
  }

  getRow(type: string): AgentRow {
    const row = this.repository.findByType(type);
    if (row === undefined) throw DomainError.notFound('Agent', type);
    return row;
  }

  /** Active agents, the catalogue the orchestrator plans with. */
  listActive(): readonly AgentRow[] {
    return this.repository.listActive();
  }

  create(input: CreateAgentInput): Agent {
    const now = nowIso();
    const created = this.repository.insert({
      id: newId(),
      type: input.type,
      name: input.name,
      description: input.description ?? '',
      systemPrompt: input.systemPrompt,
      model: input.model ?? null,
      temperature: input.temperature ?? null,
      maxOutputTokens: input.maxOutputTokens ?? null,
      createdAt: now,
      updatedAt: now,
    });
    if (!created) throw DomainError.conflict(`An agent of type '${input.type}' exists already`);
    return this.get(input.type);
  }

  update(type: string, input: UpdateAgentInput): Agent {
    if (input.status === 'disabled') this.assertMayDisable(type);
    const row = this.repository.update(type, input, nowIso());
    if (row === undefined) throw DomainError.notFound('Agent', type);
    return toAgent(row);
  }

  /** Disables the agent: it no longer gets new steps; its history stays. */
  disable(type: string): Agent {
    this.assertMayDisable(type);
    const current = this.getRow(type);
    if (current.status === 'disabled') return toAgent(current);
    return this.update(type, { status: 'disabled' });
  }

  private assertMayDisable(type: string): void {
    if ((REQUIRED_AGENT_TYPES as readonly string[]).includes(type)) {
      throw new DomainError(
        ErrorCode.CONFLICT,
        `The '${type}' agent is required by every workflow and cannot be disabled; edit it instead`,
      );
    }
  }
}

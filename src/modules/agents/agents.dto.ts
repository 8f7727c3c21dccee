import { createZodDto } from 'nestjs-zod';
import {
  agentListSchema,
  agentSchema,
  agentTypeParamsSchema,
  createAgentSchema,
  listAgentsQuerySchema,
  updateAgentSchema,
} from './agents.contract';

/** The HTTP binding of the agents contract: DTO classes for Nest's pipes and the OpenAPI document. */
export class AgentDto extends createZodDto(agentSchema) {}
export class AgentListDto extends createZodDto(agentListSchema) {}
export class CreateAgentDto extends createZodDto(createAgentSchema) {}
export class UpdateAgentDto extends createZodDto(updateAgentSchema) {}
export class ListAgentsQueryDto extends createZodDto(listAgentsQuerySchema) {}
export class AgentTypeParamsDto extends createZodDto(agentTypeParamsSchema) {}

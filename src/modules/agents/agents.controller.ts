import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ZodResponse } from '../../common/http/zod-response.decorator';
import { ApiProblems } from '../../common/http/api-problems.decorator';
import {
  AgentDto,
  AgentListDto,
  AgentTypeParamsDto,
  CreateAgentDto,
  ListAgentsQueryDto,
  UpdateAgentDto,
} from './agents.dto';
import { AgentsService } from './agents.service';

@ApiTags('agents')
@Controller({ path: 'agents', version: '1' })
export class AgentsController {
  constructor(private readonly agents: AgentsService) {}

  @Get()
  @ApiOperation({ summary: 'List agent profiles (oldest first)' })
  @ZodResponse({ status: 200, type: AgentListDto })
  @ApiProblems(400)
  list(@Query() query: ListAgentsQueryDto) {
    return this.agents.list(query);
  }

  @Post()
  @ApiOperation({ summary: 'Create an agent profile' })
  @ZodResponse({ status: 201, type: AgentDto })
  @ApiProblems(400, 409)
  create(@Body() body: CreateAgentDto) {
    return this.agents.create(body);
  }

  @Get(':type')
  @ApiOperation({ summary: 'Get one agent profile by its type' })
  @ZodResponse({ status: 200, type: AgentDto })
  @ApiProblems(400, 404)
  get(@Param() params: AgentTypeParamsDto) {
    return this.agents.get(params.type);
  }

  @Patch(':type')
  @ApiOperation({ summary: 'Change fields of an agent profile (its version goes up by one)' })
  @ZodResponse({ status: 200, type: AgentDto })
  @ApiProblems(400, 404, 409)
  update(@Param() params: AgentTypeParamsDto, @Body() body: UpdateAgentDto) {
    return this.agents.update(params.type, body);
  }

  @Delete(':type')
  @HttpCode(200)
  @ApiOperation({ summary: 'Disable an agent: it gets no new steps, its history stays' })
  @ZodResponse({ status: 200, type: AgentDto })
  @ApiProblems(400, 404, 409)
  disable(@Param() params: AgentTypeParamsDto) {
    return this.agents.disable(params.type);
  }
}

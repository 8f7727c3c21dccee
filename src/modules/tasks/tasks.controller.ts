import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ZodResponse } from '../../common/http/zod-response.decorator';
import { ApiProblems } from '../../common/http/api-problems.decorator';
import { AgentTypeParamsDto } from '../agents/agents.dto';
import { IdParamsDto, ListTasksQueryDto, TaskDto, TaskListDto } from '../workflows/workflows.dto';
import { TasksService } from './tasks.service';

@ApiTags('tasks')
@Controller({ version: '1' })
export class TasksController {
  constructor(private readonly tasks: TasksService) {}

  @Get('tasks/:id')
  @ApiOperation({ summary: 'One task with its output, attempts, error and usage' })
  @ZodResponse({ status: 200, type: TaskDto })
  @ApiProblems(400, 404)
  get(@Param() params: IdParamsDto) {
    return this.tasks.get(params.id);
  }

  @Get('agents/:type/tasks')
  @ApiTags('agents')
  @ApiOperation({ summary: 'The tasks an agent worked on, newest first' })
  @ZodResponse({ status: 200, type: TaskListDto })
  @ApiProblems(400, 404)
  history(@Param() params: AgentTypeParamsDto, @Query() query: ListTasksQueryDto) {
    return this.tasks.listByAgent(params.type, query);
  }
}

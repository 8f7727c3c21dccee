import { RequestId } from '../../common/http/request-id.decorator';
import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  Param,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ZodResponse } from '../../common/http/zod-response.decorator';
import { z } from 'zod';
import { DomainError } from '../../common/domain-error';
import { ApiProblems } from '../../common/http/api-problems.decorator';
import { zodIssuesToFieldErrors } from '../../common/http/problem';
import { EventStreamService } from '../orchestrator/event-stream.service';
import { OrchestratorService } from '../orchestrator/orchestrator.service';
import { isTerminalWorkflow } from './workflow-status';
import { idempotencyKeySchema } from './workflows.contract';
import {
  EventListDto,
  IdParamsDto,
  ListEventsQueryDto,
  ListWorkflowsQueryDto,
  SubmitQueryDto,
  SubmitWorkflowDto,
  TaskListDto,
  WorkflowDetailDto,
  WorkflowListDto,
} from './workflows.dto';
import { WorkflowsService } from './workflows.service';

const lastEventIdSchema = z.coerce.number().int().min(0);

@ApiTags('workflows')
@Controller({ path: 'workflows', version: '1' })
export class WorkflowsController {
  constructor(
    private readonly orchestrator: OrchestratorService,
    private readonly workflows: WorkflowsService,
    private readonly eventStream: EventStreamService,
  ) {}

  @Post()
  @ApiOperation({
    summary: 'Submit a request; the orchestrator plans and runs it',
    description:
      'Answers 202 with the stored workflow and a Location header. With an Idempotency-Key already used for the same body, answers 200 with that workflow. With ?wait=N (≤ 5 s), waits for a terminal state and answers 200 if it was reached.',
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'Same key and body → same workflow',
  })
  @ApiResponse({ status: 202, description: 'Accepted', type: WorkflowDetailDto })
  @ApiResponse({
    status: 200,
    description: 'Replayed or finished within ?wait',
    type: WorkflowDetailDto,
  })
  @ApiProblems(400, 413, 415, 422)
  async submit(
    @Body() body: SubmitWorkflowDto,
    @Query() query: SubmitQueryDto,
    @Headers('idempotency-key') rawKey: string | undefined,
    @RequestId() requestId: string,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const key = rawKey === undefined ? undefined : idempotencyKeySchema.safeParse(rawKey);
    if (key !== undefined && !key.success) {
      throw DomainError.validation(
        'The Idempotency-Key header is not valid',
        zodIssuesToFieldErrors(key.error).map((e) => ({ ...e, path: 'Idempotency-Key' })),
      );
    }
    const submitted = await this.orchestrator.submit(body, key?.data, requestId);
    let workflow = submitted.workflow;
    if (query.wait !== undefined && query.wait > 0 && !isTerminalWorkflow(workflow.status)) {
      workflow = await this.orchestrator.waitForTerminal(workflow.id, query.wait);
    }
    // 200 for a replayed Idempotency-Key, or when ?wait saw the end; otherwise 202 (even if a
    // fast worker already finished it).
    const waitedToTheEnd = query.wait !== undefined && isTerminalWorkflow(workflow.status);
    const status = !submitted.created || waitedToTheEnd ? 200 : 202;
    await reply
      .status(status)
      .header('location', `/api/v1/workflows/${workflow.id}`)
      .send(workflow);
  }

  @Get()
  @ApiOperation({ summary: 'List workflows, newest first' })
  @ZodResponse({ status: 200, type: WorkflowListDto })
  @ApiProblems(400)
  list(@Query() query: ListWorkflowsQueryDto) {
    return this.workflows.list(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One workflow with its tasks, result and usage' })
  @ZodResponse({ status: 200, type: WorkflowDetailDto })
  @ApiProblems(400, 404)
  get(@Param() params: IdParamsDto) {
    return this.workflows.getDetail(params.id);
  }

  @Get(':id/tasks')
  @ApiOperation({ summary: 'The workflow’s tasks in plan order' })
  @ZodResponse({ status: 200, type: TaskListDto })
  @ApiProblems(400, 404)
  tasks(@Param() params: IdParamsDto) {
    return this.workflows.listTasks(params.id);
  }

  @Get(':id/events')
  @ApiOperation({
    summary: 'The workflow’s events (JSON), or a live stream with Accept: text/event-stream',
    description:
      'As JSON: events after ?after= in order; nextCursor is the value for the next ?after=. As SSE: replays, then streams live (id = event id, event = type), resumes from Last-Event-ID, closes after the terminal event.',
  })
  @ApiProduces('application/json', 'text/event-stream')
  @ApiResponse({ status: 200, type: EventListDto })
  @ApiProblems(400, 404)
  async events(
    @Param() params: IdParamsDto,
    @Query() query: ListEventsQueryDto,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const accept = request.headers.accept ?? '';
    if (!accept.includes('text/event-stream')) {
      await reply.send(this.workflows.listEvents(params.id, query));
      return;
    }
    const lastEventId = lastEventIdSchema.safeParse(request.headers['last-event-id']);
    const after = Math.max(query.after ?? 0, lastEventId.success ? lastEventId.data : 0);
    this.workflows.getRow(params.id);
    reply.hijack();
    const closed = new AbortController();
    const onClose = () => closed.abort();
    request.raw.on('close', onClose);
    reply.raw.on('close', onClose);
    // The client may have gone while the request was being handled.
    if (reply.raw.destroyed || request.raw.socket.destroyed) closed.abort();
    // The headers the reply has by now (request id, security headers, CORS) go with the stream.
    await this.eventStream.stream(params.id, after, reply.raw, reply.getHeaders(), closed.signal);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Cancel; steps waiting are cancelled and model calls in flight aborted',
  })
  @ZodResponse({ status: 200, type: WorkflowDetailDto })
  @ApiProblems(400, 404, 409)
  cancel(@Param() params: IdParamsDto, @RequestId() requestId: string) {
    return this.orchestrator.cancel(params.id, requestId);
  }

  @Post(':id/approve')
  @HttpCode(200)
  @ApiOperation({ summary: 'Approve a plan that waits for approval; it starts running' })
  @ZodResponse({ status: 200, type: WorkflowDetailDto })
  @ApiProblems(400, 404, 409)
  approve(@Param() params: IdParamsDto) {
    return this.orchestrator.approve(params.id);
  }

  @Post(':id/reject')
  @HttpCode(200)
  @ApiOperation({ summary: 'Reject a plan that waits for approval; the workflow is cancelled' })
  @ZodResponse({ status: 200, type: WorkflowDetailDto })
  @ApiProblems(400, 404, 409)
  reject(@Param() params: IdParamsDto) {
    return this.orchestrator.reject(params.id);
  }

  @Post(':id/retry')
  @HttpCode(200)
  @ApiOperation({ summary: 'Run a failed workflow’s failed and cancelled steps again' })
  @ZodResponse({ status: 200, type: WorkflowDetailDto })
  @ApiProblems(400, 404, 409)
  retry(@Param() params: IdParamsDto, @RequestId() requestId: string) {
    return this.orchestrator.retry(params.id, requestId);
  }
}

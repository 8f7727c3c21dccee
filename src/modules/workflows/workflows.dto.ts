import { createZodDto } from 'nestjs-zod';
import { pageSchema } from '../../common/pagination';
import {
  eventSchema,
  idParamsSchema,
  listEventsQuerySchema,
  listTasksQuerySchema,
  listWorkflowsQuerySchema,
  submitQuerySchema,
  submitWorkflowSchema,
  taskSchema,
  workflowDetailSchema,
  workflowSchema,
} from './workflows.contract';

/** The HTTP binding of the workflows contract: DTO classes for Nest's pipes and the OpenAPI document. */
export class IdParamsDto extends createZodDto(idParamsSchema) {}
export class SubmitWorkflowDto extends createZodDto(submitWorkflowSchema) {}
export class SubmitQueryDto extends createZodDto(submitQuerySchema) {}
export class WorkflowDto extends createZodDto(workflowSchema) {}
export class WorkflowDetailDto extends createZodDto(workflowDetailSchema) {}
export class WorkflowListDto extends createZodDto(pageSchema(workflowSchema)) {}
export class TaskDto extends createZodDto(taskSchema) {}
export class TaskListDto extends createZodDto(pageSchema(taskSchema)) {}
export class EventListDto extends createZodDto(pageSchema(eventSchema)) {}
export class ListWorkflowsQueryDto extends createZodDto(listWorkflowsQuerySchema) {}
export class ListEventsQueryDto extends createZodDto(listEventsQuerySchema) {}
export class ListTasksQueryDto extends createZodDto(listTasksQuerySchema) {}

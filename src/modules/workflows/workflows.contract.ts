import { z } from 'zod';
import { pageQueryShape } from '../../common/pagination';
import { agentTypeSchema } from '../agents/agents.contract';
import { EVENT_TYPES } from './workflow-event-types';
import { TASK_STATUSES, WORKFLOW_STATUSES } from './workflow-status';

export const MAX_REQUEST_LENGTH = 20_000;
export const MAX_METADATA_BYTES = 16_384;
export const MAX_WAIT_SECONDS = 5;

const uuidSchema = z.uuid({ error: 'must be a UUID' });

export const idParamsSchema = z.strictObject({ id: uuidSchema });

const metadataSchema = z
  .record(z.string().max(100), z.json())
  .refine((value) => JSON.stringify(value).length <= MAX_METADATA_BYTES, {
    message: `must be at most ${MAX_METADATA_BYTES} bytes as JSON`,
  })
  .describe('Free-form JSON object kept with the workflow');

export const submitWorkflowSchema = z.strictObject({
  request: z
    .string({ error: 'must be a string' })
    .trim()
    .min(1, 'must not be empty')
    .max(MAX_REQUEST_LENGTH, `must be at most ${MAX_REQUEST_LENGTH} characters`)
    .describe('What the user wants done, in plain language'),
  requireApproval: z
    .boolean()
    .default(false)
    .describe('Stop after planning until the plan is approved or rejected'),
  agents: z
    .array(agentTypeSchema)
    .min(1)
    .max(20)
    .refine((list) => new Set(list).size === list.length, { message: 'must not repeat a type' })
    .optional()
    .describe(
      'Limit the plan to these agent types (orchestrator and safety still plan and review)',
    ),
  metadata: metadataSchema.optional(),
});
export type SubmitWorkflowInput = z.infer<typeof submitWorkflowSchema>;

export const submitQuerySchema = z.strictObject({
  wait: z.coerce
    .number()
    .min(0)
    .max(MAX_WAIT_SECONDS)
    .optional()
    .describe(`Wait up to this many seconds (≤ ${MAX_WAIT_SECONDS}) for a terminal state`),
});

export const idempotencyKeySchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

export const usageSchema = z.object({
  llmCalls: z.number().int(),
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
});

export const errorBodySchema = z.object({ code: z.string(), message: z.string() });

export const planStepSchema = z.object({
  key: z.string(),
  title: z.string(),
  agentType: z.string(),
  instructions: z.string(),
  dependsOn: z.array(z.string()),
});

export const workflowResultSchema = z.object({
  summary: z.string(),
  safety: z.object({ approved: z.boolean(), notes: z.string() }),
  outputs: z.record(z.string(), z.string()),
});

export const workflowSchema = z.object({
  id: z.string(),
  request: z.string(),
  status: z.enum(WORKFLOW_STATUSES),
  requireApproval: z.boolean(),
  plan: z.object({ steps: z.array(planStepSchema) }).nullable(),
  result: workflowResultSchema.nullable(),
  error: errorBodySchema.nullable(),
  metadata: z.record(z.string(), z.unknown()).nullable(),
  usage: usageSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});
export type Workflow = z.infer<typeof workflowSchema>;

export const taskSchema = z.object({
  id: z.string(),
  workflowId: z.string(),
  key: z.string(),
  title: z.string(),
  agentType: z.string(),
  input: z.string(),
  output: z.string().nullable(),
  status: z.enum(TASK_STATUSES),
  dependsOn: z.array(z.string()),
  attempts: z.number().int(),
  error: errorBodySchema.nullable(),
  usage: usageSchema,
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});
export type Task = z.infer<typeof taskSchema>;

export const workflowDetailSchema = workflowSchema.extend({ tasks: z.array(taskSchema) });
export type WorkflowDetail = z.infer<typeof workflowDetailSchema>;

export const eventSchema = z.object({
  id: z.number().int(),
  workflowId: z.string(),
  taskId: z.string().nullable(),
  type: z.enum(EVENT_TYPES),
  message: z.string(),
  data: z.record(z.string(), z.unknown()).nullable(),
  createdAt: z.string(),
});
export type WorkflowEvent = z.infer<typeof eventSchema>;

export const listWorkflowsQuerySchema = z.strictObject({
  status: z.enum(WORKFLOW_STATUSES).optional(),
  ...pageQueryShape,
});
export type ListWorkflowsQuery = z.infer<typeof listWorkflowsQuerySchema>;

export const listEventsQuerySchema = z.strictObject({
  after: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .describe("Only events with a larger id (pass the previous page's nextCursor)"),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});
export type ListEventsQuery = z.infer<typeof listEventsQuerySchema>;

export const listTasksQuerySchema = z.strictObject({
  status: z.enum(TASK_STATUSES).optional(),
  ...pageQueryShape,
});
export type ListTasksQuery = z.infer<typeof listTasksQuerySchema>;

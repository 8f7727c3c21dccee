import { z } from 'zod';
import { pageQueryShape, pageSchema } from '../../common/pagination';
import { AGENT_STATUSES } from './agent-status';

export const agentTypeSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9_-]{1,39}$/,
    'must be 2–40 characters: lowercase letters, digits, "-" or "_", starting with a letter',
  )
  .describe('Unique slug of the agent, e.g. "researcher"');

export const modelSchema = z
  .string()
  .max(200)
  .regex(
    /^(offline(:[\w.\-/:]*)?|openai:[^\s]+|anthropic:[^\s]+)$/,
    'must be "offline", "openai:<model>" or "anthropic:<model>"',
  )
  .describe('provider:model, e.g. "offline", "openai:gpt-4o-mini", "anthropic:claude-sonnet-4-5"');

const nameSchema = z.string().trim().min(1).max(100);
const descriptionSchema = z.string().max(2000);
const systemPromptSchema = z.string().trim().min(1).max(20_000);
const temperatureSchema = z.number().min(0).max(2);
const maxOutputTokensSchema = z.number().int().min(1).max(200_000);

export const agentSchema = z.object({
  id: z.string(),
  type: z.string(),
  name: z.string(),
  version: z.number().int().describe('Increases by one on every update'),
  status: z.enum(AGENT_STATUSES),
  description: z.string(),
  systemPrompt: z.string(),
  model: z.string().nullable().describe('null uses DEFAULT_MODEL'),
  temperature: z.number().nullable(),
  maxOutputTokens: z.number().int().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Agent = z.infer<typeof agentSchema>;

export const createAgentSchema = z.strictObject({
  type: agentTypeSchema,
  name: nameSchema,
  description: descriptionSchema.optional(),
  systemPrompt: systemPromptSchema,
  model: modelSchema.nullable().optional(),
  temperature: temperatureSchema.nullable().optional(),
  maxOutputTokens: maxOutputTokensSchema.nullable().optional(),
});
export type CreateAgentInput = z.infer<typeof createAgentSchema>;

export const updateAgentSchema = z
  .strictObject({
    name: nameSchema.optional(),
    description: descriptionSchema.optional(),
    systemPrompt: systemPromptSchema.optional(),
    model: modelSchema.nullable().optional(),
    temperature: temperatureSchema.nullable().optional(),
    maxOutputTokens: maxOutputTokensSchema.nullable().optional(),
    status: z.enum(AGENT_STATUSES).optional().describe('"active" re-enables a disabled agent'),
  })
  .refine((value) => Object.keys(value).length > 0, {
    message: 'must change at least one field',
    // Only when the body is otherwise valid: unknown fields are reported as such, not as "empty".
    when: (payload) => payload.issues.length === 0,
  });
export type UpdateAgentInput = z.infer<typeof updateAgentSchema>;

export const listAgentsQuerySchema = z.strictObject({
  status: z.enum(AGENT_STATUSES).optional(),
  ...pageQueryShape,
});
export type ListAgentsQuery = z.infer<typeof listAgentsQuerySchema>;

export const agentListSchema = pageSchema(agentSchema);

export const agentTypeParamsSchema = z.strictObject({ type: agentTypeSchema });

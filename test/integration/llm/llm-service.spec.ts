import { z } from 'zod';
import { LlmError } from '../../../src/modules/llm/llm.types';
import {
  backoffDelayMs,
  MAX_BACKOFF_MS,
  parseModelName,
} from '../../../src/modules/llm/llm.service';
import {
  createLlmTestContext,
  llmError,
  outcomes,
  planRequest,
  planSchema,
  thrownLlmError,
  stepRequest,
  type LlmTestContext,
} from './llm-test-context';

describe('LlmService with the offline model', () => {
  let ctx: LlmTestContext;

  beforeAll(async () => {
    ctx = await createLlmTestContext({ LLM_TIMEOUT_MS: '150' });
  });

  afterAll(async () => {
    await ctx.close();
  });

  it('answers a plan call with a schema-valid object and records it', async () => {
    const workflowId = ctx.newWorkflow();

    const response = await ctx.llm.generate(planRequest('offline', workflowId));

    expect(planSchema.safeParse(response.object).success).toBe(true);
    expect(response).toMatchObject({ provider: 'offline', model: 'offline' });
    expect(ctx.calls.listByWorkflow(workflowId)).toEqual([
      expect.objectContaining({
        provider: 'offline',
        model: 'offline',
        purpose: 'plan',
        agentType: 'orchestrator',
        taskId: null,
        status: 'ok',
        inputTokens: response.usage.inputTokens,
        outputTokens: response.usage.outputTokens,
      }),
    ]);
  });

  it('sums usage per workflow (planning included) and per task with one grouped query', async () => {
    const workflowId = ctx.newWorkflow();
    const plan = await ctx.llm.generate(planRequest('offline', workflowId));
    const first = await ctx.llm.generate(stepRequest('offline', workflowId));
    const second = await ctx.llm.generate(stepRequest('offline:fast', workflowId));
    const other = await ctx.llm.generate({
      ...stepRequest('offline', workflowId),
      owner: { workflowId, taskId: 'task-2', agentType: 'coder' },
    });

    const usage = ctx.calls.usageByWorkflow(workflowId);

    const sum = (key: 'inputTokens' | 'outputTokens') =>
      [plan, first, second, other].reduce((total, r) => total + r.usage[key], 0);
    expect(usage.total).toEqual({
      llmCalls: 4,
      inputTokens: sum('inputTokens'),
      outputTokens: sum('outputTokens'),
    });
    expect(usage.byTask.get('task-1')).toEqual({
      llmCalls: 2,
      inputTokens: first.usage.inputTokens + second.usage.inputTokens,
      outputTokens: first.usage.outputTokens + second.usage.outputTokens,
    });
    expect(usage.byTask.get('task-2')?.llmCalls).toBe(1);
    expect(ctx.calls.usageByTask('task-2')).toEqual({ llmCalls: 1, ...other.usage });
    expect(ctx.calls.usageByTask('no-such-task')).toEqual({
      llmCalls: 0,
      inputTokens: 0,
      outputTokens: 0,
    });
    expect(ctx.calls.usageByWorkflow('no-such-workflow').total.llmCalls).toBe(0);
    const totals = ctx.calls.usageTotalsByWorkflows([workflowId, 'no-such-workflow']);
    expect(totals.get(workflowId)).toEqual(usage.total);
    expect(totals.get('no-such-workflow')?.llmCalls).toBe(0);
    expect(ctx.calls.usageTotalsByWorkflows([]).size).toBe(0);
  });

  it('rejects an unknown provider with unknown_provider and records the failed call', async () => {
    const workflowId = ctx.newWorkflow();

    const error = await llmError(ctx.llm.generate(stepRequest('mistral:large', workflowId)));

    expect(error).toMatchObject({ code: 'unknown_provider', retryable: false });
    expect(error.message).toMatch(/Unknown model provider "mistral"/);
    expect(ctx.calls.listByWorkflow(workflowId)).toEqual([
      expect.objectContaining({ status: 'error', provider: 'mistral', model: 'mistral:large' }),
    ]);
  });

  it('answers malformed_response when the offline answer cannot match the schema', async () => {
    const workflowId = ctx.newWorkflow();
    const request = { ...planRequest('offline', workflowId), schema: z.object({ x: z.number() }) };

    const error = await llmError(ctx.llm.generate(request));

    expect(error.code).toBe('malformed_response');
  });
});

describe('LlmService timeouts and aborts', () => {
  let ctx: LlmTestContext;

  beforeAll(async () => {
    ctx = await createLlmTestContext({ LLM_TIMEOUT_MS: '150', OFFLINE_LATENCY_MS: '2000' });
  });

  afterAll(async () => {
    await ctx.close();
  });

  it('times out after LLM_TIMEOUT_MS', async () => {
    const workflowId = ctx.newWorkflow();
    const started = Date.now();

    const error = await llmError(ctx.llm.generate(stepRequest('offline', workflowId)));

    expect(error).toMatchObject({ code: 'timeout', retryable: true });
    expect(error.message).toMatch(/did not answer within 150 ms/);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(outcomes(ctx.calls.listByWorkflow(workflowId))).toEqual(['error:timeout']);
  });

  it("tells the caller's abort apart from the timeout", async () => {
    const workflowId = ctx.newWorkflow();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);

    const error = await llmError(
      ctx.llm.generate(stepRequest('offline', workflowId, controller.signal)),
    );

    expect(error).toMatchObject({ code: 'aborted', retryable: false });
  });
});

describe('parseModelName', () => {
  it.each([
    ['offline', { provider: 'offline', model: 'offline' }],
    ['offline:slow', { provider: 'offline', model: 'slow' }],
    ['openai:gpt-4o-mini', { provider: 'openai', model: 'gpt-4o-mini' }],
    [
      'openai:openrouter/meta-llama:free',
      { provider: 'openai', model: 'openrouter/meta-llama:free' },
    ],
    ['anthropic:claude-sonnet-4-5', { provider: 'anthropic', model: 'claude-sonnet-4-5' }],
  ])('reads %s', (name, expected) => {
    expect(parseModelName(name)).toEqual(expected);
  });

  it('rejects unknown providers and missing model ids', () => {
    expect(thrownLlmError(() => parseModelName('gemini:pro')).code).toBe('unknown_provider');
    expect(thrownLlmError(() => parseModelName('openai:')).code).toBe('invalid_request');
  });
});

describe('backoffDelayMs', () => {
  const transient = new LlmError('provider_unavailable', 'down');

  it('grows exponentially with jitter between half and all of the step', () => {
    expect(backoffDelayMs(1, transient, 500, () => 0)).toBe(250);
    expect(backoffDelayMs(1, transient, 500, () => 1)).toBe(500);
    expect(backoffDelayMs(3, transient, 500, () => 1)).toBe(2000);
    expect(backoffDelayMs(3, transient, 500, () => 0.5)).toBe(1500);
  });

  it('is capped', () => {
    expect(backoffDelayMs(40, transient, 500, () => 1)).toBe(MAX_BACKOFF_MS);
  });

  it("uses the provider's Retry-After for a rate limit", () => {
    const limited = new LlmError('rate_limited', 'slow down', 7000);
    expect(backoffDelayMs(1, limited, 500, () => 0)).toBe(7000);
    const withoutHint = new LlmError('rate_limited', 'slow down');
    expect(backoffDelayMs(2, withoutHint, 500, () => 1)).toBe(1000);
  });
});

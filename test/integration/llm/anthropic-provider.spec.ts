import { z } from 'zod';
import { reply, startFakeLlmServer, type FakeLlmServer } from '../../helpers/fake-llm-server';
import {
  createLlmTestContext,
  llmError,
  outcomes,
  planRequest,
  samplePlan,
  stepRequest,
  type LlmTestContext,
} from './llm-test-context';

const API_KEY = 'sk-ant-test-0123456789abcdef';
const MODEL = 'anthropic:claude-sonnet-4-5';

/**
 * Long enough that a call answered at once never times out, also on a loaded machine (a first
 * call builds the provider's client); the hang tests wait this long.
 */
const TIMEOUT_MS = 2000;

describe('Anthropic provider (through LlmService, against a fake server)', () => {
  let server: FakeLlmServer;
  let ctx: LlmTestContext;
  let workflowId: string;

  beforeAll(async () => {
    server = await startFakeLlmServer();
    ctx = await createLlmTestContext({
      ANTHROPIC_BASE_URL: server.baseUrl,
      ANTHROPIC_API_KEY: API_KEY,
      LLM_TIMEOUT_MS: String(TIMEOUT_MS),
    });
  });

  afterAll(async () => {
    await ctx.close();
    await server.close();
  });

  beforeEach(() => {
    server.reset();
    workflowId = ctx.newWorkflow();
  });

  function recordedCalls() {
    const rows = ctx.calls.listByWorkflow(workflowId);
    for (const row of rows) expect(row.error ?? '').not.toContain(API_KEY);
    return rows;
  }

  it('answers with the text and the usage the server reported, sending the key as x-api-key', async () => {
    server.enqueue(reply.text('Baked with love since dawn.', { inputTokens: 55, outputTokens: 9 }));

    const response = await ctx.llm.generate(stepRequest(MODEL, workflowId));

    expect(response).toMatchObject({
      text: 'Baked with love since dawn.',
      usage: { inputTokens: 55, outputTokens: 9 },
      provider: 'anthropic',
      model: 'claude-sonnet-4-5',
    });
    const [received] = server.requests;
    expect(received?.path).toBe('/v1/messages');
    expect(received?.headers['x-api-key']).toBe(API_KEY);
    expect(received?.headers['anthropic-version']).toBe('2023-06-01');
    expect(received?.headers.authorization).toBeUndefined();
    expect(received?.body).toMatchObject({
      model: 'claude-sonnet-4-5',
      max_tokens: 256,
      temperature: 0.7,
      system: [{ type: 'text', text: 'You are the writer.' }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Write a tagline for a bakery.' }] },
      ],
    });
    expect(recordedCalls()).toEqual([
      expect.objectContaining({
        status: 'ok',
        provider: 'anthropic',
        model: 'claude-sonnet-4-5',
        inputTokens: 55,
        outputTokens: 9,
      }),
    ]);
  });

  it('clamps a temperature above 1 to what Anthropic accepts', async () => {
    await ctx.llm.generate({ ...stepRequest(MODEL, workflowId), temperature: 1.6 });

    expect(server.requests[0]?.body).toMatchObject({ temperature: 1 });
  });

  it('parses structured output sent as an output format (models with native support)', async () => {
    server.enqueue(reply.json(samplePlan, { inputTokens: 120, outputTokens: 80 }));

    const response = await ctx.llm.generate(planRequest(MODEL, workflowId));

    expect(response.object).toEqual(samplePlan);
    expect(response.usage).toEqual({ inputTokens: 120, outputTokens: 80 });
    const format = z
      .object({ output_config: z.object({ format: z.object({ type: z.literal('json_schema') }) }) })
      .safeParse(server.requests[0]?.body);
    expect(format.success).toBe(true);
  });

  it('parses structured output answered through the json tool (older models)', async () => {
    server.enqueue(reply.json(samplePlan));

    const response = await ctx.llm.generate(
      planRequest('anthropic:claude-3-haiku-20240307', workflowId),
    );

    expect(response.object).toEqual(samplePlan);
    const tools = z
      .object({ tools: z.array(z.object({ name: z.string() }).loose()) })
      .safeParse(server.requests[0]?.body);
    expect(tools.success && tools.data.tools.map((tool) => tool.name)).toEqual(['json']);
  });

  it('maps 429 with Retry-After to rate_limited with retryAfterMs', async () => {
    server.enqueue(reply.rateLimited(3));

    const error = await llmError(ctx.llm.generate(stepRequest(MODEL, workflowId)));

    expect(error).toMatchObject({ code: 'rate_limited', retryable: true, retryAfterMs: 3000 });
    expect(error.message).toContain(`Anthropic API at ${server.baseUrl} answered 429`);
  });

  it('maps 500 and 529 (overloaded) to provider_unavailable, retryable', async () => {
    server.enqueue(reply.status(500), reply.status(529, { message: 'Overloaded' }));

    const first = await llmError(ctx.llm.generate(stepRequest(MODEL, workflowId)));
    const second = await llmError(ctx.llm.generate(stepRequest(MODEL, workflowId)));

    expect(first).toMatchObject({ code: 'provider_unavailable', retryable: true });
    expect(first.message).toBe(
      `Anthropic API at ${server.baseUrl} answered 500 Internal Server Error`,
    );
    expect(second).toMatchObject({ code: 'provider_unavailable', retryable: true });
    expect(second.message).toMatch(/answered 529.*Overloaded/);
    expect(recordedCalls().map((row) => row.status)).toEqual(['error', 'error']);
  });

  it('times out a server that never answers within LLM_TIMEOUT_MS', async () => {
    server.enqueue(reply.hang());
    const started = Date.now();

    const error = await llmError(ctx.llm.generate(stepRequest(MODEL, workflowId)));

    expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1500);
    expect(error).toMatchObject({ code: 'timeout', retryable: true });
    await server.waitForClientClose(0);
    expect(outcomes(recordedCalls())).toEqual(['error:timeout']);
  });

  it('maps an HTML answer to malformed_response', async () => {
    server.enqueue(reply.html(200));

    const error = await llmError(ctx.llm.generate(stepRequest(MODEL, workflowId)));

    expect(error).toMatchObject({ code: 'malformed_response', retryable: true });
  });

  it('maps 401 to authentication_failed (not retryable) without showing the key', async () => {
    server.enqueue(reply.status(401, { message: `invalid x-api-key ${API_KEY}` }));

    const error = await llmError(ctx.llm.generate(stepRequest(MODEL, workflowId)));

    expect(error).toMatchObject({ code: 'authentication_failed', retryable: false });
    expect(error.message).toMatch(/ANTHROPIC_API_KEY/);
    expect(error.message).not.toContain(API_KEY);
    expect(recordedCalls()).toEqual([expect.objectContaining({ status: 'error' })]);
  });

  it("aborts on the caller's signal: aborted, and the server sees the connection closed", async () => {
    server.enqueue(reply.hang());
    const controller = new AbortController();

    const pending = llmError(ctx.llm.generate(stepRequest(MODEL, workflowId, controller.signal)));
    await server.waitForRequests(1);
    controller.abort(new Error('workflow cancelled'));
    const error = await pending;

    expect(error).toMatchObject({ code: 'aborted', retryable: false });
    await server.waitForClientClose(0);
    expect(outcomes(recordedCalls())).toEqual(['error:aborted']);
  });
});

describe('Anthropic provider without a key', () => {
  it('fails with authentication_failed naming ANTHROPIC_API_KEY, without calling out', async () => {
    const server = await startFakeLlmServer();
    const ctx = await createLlmTestContext({ ANTHROPIC_BASE_URL: server.baseUrl });
    try {
      const workflowId = ctx.newWorkflow();
      const error = await llmError(ctx.llm.generate(stepRequest(MODEL, workflowId)));
      expect(error).toMatchObject({ code: 'authentication_failed', retryable: false });
      expect(error.message).toMatch(/ANTHROPIC_API_KEY/);
      expect(server.requests).toHaveLength(0);
      expect(ctx.calls.listByWorkflow(workflowId)).toEqual([
        expect.objectContaining({ status: 'error', provider: 'anthropic' }),
      ]);
    } finally {
      await ctx.close();
      await server.close();
    }
  });
});

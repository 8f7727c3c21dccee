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

const API_KEY = 'sk-test-openai-0123456789abcdef';
const MODEL = 'openai:gpt-test';

/**
 * Long enough that a call answered at once never times out, also on a loaded machine (a first
 * call builds the provider's client); the hang tests wait this long.
 */
const TIMEOUT_MS = 2000;

describe('OpenAI-compatible provider (through LlmService, against a fake server)', () => {
  let server: FakeLlmServer;
  let ctx: LlmTestContext;
  let workflowId: string;

  beforeAll(async () => {
    server = await startFakeLlmServer();
    ctx = await createLlmTestContext({
      OPENAI_BASE_URL: server.baseUrl,
      OPENAI_API_KEY: API_KEY,
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

  /** The workflow's recorded calls, checking that no key leaked into any of them. */
  function recordedCalls() {
    const rows = ctx.calls.listByWorkflow(workflowId);
    for (const row of rows) expect(row.error ?? '').not.toContain(API_KEY);
    return rows;
  }

  it('answers with the text and the usage the server reported, sending the key as a bearer token', async () => {
    server.enqueue(reply.text('Fresh bread, warm hearts.', { inputTokens: 42, outputTokens: 17 }));

    const response = await ctx.llm.generate(stepRequest(MODEL, workflowId));

    expect(response).toMatchObject({
      text: 'Fresh bread, warm hearts.',
      object: undefined,
      usage: { inputTokens: 42, outputTokens: 17 },
      provider: 'openai',
      model: 'gpt-test',
    });
    expect(response.latencyMs).toBeGreaterThanOrEqual(0);
    const [received] = server.requests;
    expect(received?.path).toBe('/v1/chat/completions');
    expect(received?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(received?.body).toMatchObject({
      model: 'gpt-test',
      temperature: 0.7,
      max_tokens: 256,
      messages: [
        { role: 'system', content: 'You are the writer.' },
        { role: 'user', content: 'Write a tagline for a bakery.' },
      ],
    });
    expect(recordedCalls()).toEqual([
      expect.objectContaining({
        status: 'ok',
        provider: 'openai',
        model: 'gpt-test',
        purpose: 'step',
        taskId: 'task-1',
        agentType: 'writer',
        inputTokens: 42,
        outputTokens: 17,
        error: null,
      }),
    ]);
  });

  it('asks for structured output with the JSON schema and returns the parsed plan', async () => {
    server.enqueue(reply.json(samplePlan, { inputTokens: 100, outputTokens: 60 }));

    const response = await ctx.llm.generate(planRequest(MODEL, workflowId));

    expect(response.object).toEqual(samplePlan);
    expect(JSON.parse(response.text)).toEqual(samplePlan);
    expect(response.usage).toEqual({ inputTokens: 100, outputTokens: 60 });
    const body = z
      .object({
        response_format: z.object({
          type: z.literal('json_schema'),
          json_schema: z
            .object({ schema: z.object({ type: z.literal('object') }).loose() })
            .loose(),
        }),
      })
      .loose()
      .safeParse(server.requests[0]?.body);
    expect(body.success).toBe(true);
    expect(recordedCalls()).toEqual([
      expect.objectContaining({ status: 'ok', purpose: 'plan', taskId: null }),
    ]);
  });

  it('reports an answer that does not match the schema as malformed_response (with its tokens)', async () => {
    server.enqueue(reply.json({ steps: 'none' }, { inputTokens: 30, outputTokens: 5 }));

    const error = await llmError(ctx.llm.generate(planRequest(MODEL, workflowId)));

    expect(error.code).toBe('malformed_response');
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/expected shape/);
    expect(recordedCalls()).toEqual([
      expect.objectContaining({ status: 'error', inputTokens: 30, outputTokens: 5 }),
    ]);
  });

  it('maps 429 with Retry-After (seconds) to rate_limited with retryAfterMs', async () => {
    server.enqueue(reply.rateLimited(2));

    const error = await llmError(ctx.llm.generate(stepRequest(MODEL, workflowId)));

    expect(error).toMatchObject({ code: 'rate_limited', retryable: true, retryAfterMs: 2000 });
    expect(error.message).toContain(`OpenAI-compatible server at ${server.baseUrl} answered 429`);
    expect(outcomes(recordedCalls())).toEqual(['error:rate_limited']);
  });

  it('reads Retry-After as an HTTP date and retry-after-ms', async () => {
    const inFiveSeconds = new Date(Math.ceil(Date.now() / 1000) * 1000 + 5000).toUTCString();
    server.enqueue(
      reply.rateLimited(inFiveSeconds),
      reply.status(429, { headers: { 'retry-after-ms': '1500', 'retry-after': '9' } }),
    );

    const byDate = await llmError(ctx.llm.generate(stepRequest(MODEL, workflowId)));
    const byMs = await llmError(ctx.llm.generate(stepRequest(MODEL, workflowId)));

    expect(byDate.code).toBe('rate_limited');
    expect(byDate.retryAfterMs).toBeGreaterThan(3000);
    expect(byDate.retryAfterMs).toBeLessThanOrEqual(6000);
    expect(byMs.retryAfterMs).toBe(1500);
  });

  it('maps 500 and 503 to provider_unavailable (retryable) with a readable message', async () => {
    server.enqueue(reply.status(500, { message: 'The server had an error' }), reply.status(503));

    const first = await llmError(ctx.llm.generate(stepRequest(MODEL, workflowId)));
    const second = await llmError(ctx.llm.generate(stepRequest(MODEL, workflowId)));

    expect(first).toMatchObject({ code: 'provider_unavailable', retryable: true });
    expect(first.message).toBe(
      `OpenAI-compatible server at ${server.baseUrl} answered 500 Internal Server Error — The server had an error`,
    );
    expect(second.message).toBe(
      `OpenAI-compatible server at ${server.baseUrl} answered 503 Service Unavailable`,
    );
    expect(recordedCalls().map((row) => row.status)).toEqual(['error', 'error']);
  });

  it('times out a server that never answers within LLM_TIMEOUT_MS and closes the connection', async () => {
    server.enqueue(reply.hang());
    const started = Date.now();

    const error = await llmError(ctx.llm.generate(stepRequest(MODEL, workflowId)));

    expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1500);
    expect(error).toMatchObject({ code: 'timeout', retryable: true });
    expect(error.message).toMatch(/did not answer within 2000 ms \(LLM_TIMEOUT_MS\)/);
    await server.waitForClientClose(0);
    expect(outcomes(recordedCalls())).toEqual(['error:timeout']);
  });

  it('maps an HTML page to malformed_response (200) or provider_unavailable (502)', async () => {
    server.enqueue(reply.html(200), reply.html(502));

    const ok = await llmError(ctx.llm.generate(stepRequest(MODEL, workflowId)));
    const gateway = await llmError(ctx.llm.generate(stepRequest(MODEL, workflowId)));

    expect(ok).toMatchObject({ code: 'malformed_response', retryable: true });
    expect(ok.message).toMatch(/HTML page instead of JSON/);
    expect(gateway).toMatchObject({ code: 'provider_unavailable', retryable: true });
    expect(gateway.message).toMatch(/answered 502 Bad Gateway \(an HTML error page\)/);
  });

  it('maps 401 to authentication_failed (not retryable) without ever showing the key', async () => {
    server.enqueue(
      reply.status(401, { message: `Incorrect API key provided: ${API_KEY}. Check your key.` }),
    );

    const error = await llmError(ctx.llm.generate(stepRequest(MODEL, workflowId)));

    expect(error).toMatchObject({ code: 'authentication_failed', retryable: false });
    expect(error.message).toMatch(/answered 401 Unauthorized/);
    expect(error.message).toMatch(/OPENAI_API_KEY/);
    expect(error.message).not.toContain(API_KEY);
    const [row] = recordedCalls();
    expect(row?.error).toMatch(/^authentication_failed: /);
  });

  it('maps other 4xx to invalid_request (not retryable)', async () => {
    server.enqueue(reply.status(404, { message: 'The model gpt-test does not exist' }));

    const error = await llmError(ctx.llm.generate(stepRequest(MODEL, workflowId)));

    expect(error).toMatchObject({ code: 'invalid_request', retryable: false });
    expect(error.message).toMatch(/404 Not Found: check the model name/);
  });

  it("aborts on the caller's signal: aborted, and the server sees the connection closed", async () => {
    server.enqueue(reply.hang());
    const controller = new AbortController();

    const pending = llmError(ctx.llm.generate(stepRequest(MODEL, workflowId, controller.signal)));
    await server.waitForRequests(1);
    controller.abort();
    const error = await pending;

    expect(error).toMatchObject({ code: 'aborted', retryable: false });
    await server.waitForClientClose(0);
    expect(outcomes(recordedCalls())).toEqual(['error:aborted']);
  });

  it('maps a connection reset to provider_unavailable', async () => {
    server.enqueue(reply.reset());

    const error = await llmError(ctx.llm.generate(stepRequest(MODEL, workflowId)));

    expect(error).toMatchObject({ code: 'provider_unavailable', retryable: true });
    expect(error.message).not.toContain(API_KEY);
  });

  it('records every call of the workflow with its status', async () => {
    server.enqueue(reply.text('one'), reply.status(500), reply.text('two'));
    await ctx.llm.generate(stepRequest(MODEL, workflowId));
    await llmError(ctx.llm.generate(stepRequest(MODEL, workflowId)));
    await ctx.llm.generate(stepRequest(MODEL, workflowId));

    expect(recordedCalls().map((row) => row.status)).toEqual(['ok', 'error', 'ok']);
    expect(ctx.calls.usageByWorkflow(workflowId).total).toEqual({
      llmCalls: 3,
      inputTokens: 20,
      outputTokens: 40,
    });
  });
});

describe('OpenAI-compatible provider without a key', () => {
  let server: FakeLlmServer;

  beforeAll(async () => {
    server = await startFakeLlmServer();
  });

  afterAll(async () => {
    await server.close();
  });

  it('calls a local server (not api.openai.com) without an Authorization header', async () => {
    const ctx = await createLlmTestContext({ OPENAI_BASE_URL: server.baseUrl });
    try {
      server.enqueue(reply.text('Hello from a local model'));
      const response = await ctx.llm.generate(stepRequest('openai:llama3', ctx.newWorkflow()));
      expect(response.text).toBe('Hello from a local model');
      expect(server.requests[0]?.headers.authorization).toBeUndefined();
    } finally {
      await ctx.close();
    }
  });

  it('fails with authentication_failed naming OPENAI_API_KEY for api.openai.com', async () => {
    const ctx = await createLlmTestContext({});
    try {
      const workflowId = ctx.newWorkflow();
      const error = await llmError(ctx.llm.generate(stepRequest(MODEL, workflowId)));
      expect(error).toMatchObject({ code: 'authentication_failed', retryable: false });
      expect(error.message).toMatch(/OPENAI_API_KEY/);
      expect(ctx.calls.listByWorkflow(workflowId)).toEqual([
        expect.objectContaining({ status: 'error', provider: 'openai' }),
      ]);
    } finally {
      await ctx.close();
    }
  });

  it('reports a server that refuses connections as provider_unavailable', async () => {
    const gone = await startFakeLlmServer();
    await gone.close();
    const ctx = await createLlmTestContext({ OPENAI_BASE_URL: gone.baseUrl });
    try {
      const error = await llmError(ctx.llm.generate(stepRequest(MODEL, ctx.newWorkflow())));
      expect(error).toMatchObject({ code: 'provider_unavailable', retryable: true });
      expect(error.message).toMatch(/Could not reach the OpenAI-compatible server at http:\/\/127/);
    } finally {
      await ctx.close();
    }
  });
});

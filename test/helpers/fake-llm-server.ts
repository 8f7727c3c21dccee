/**
 * A fake LLM HTTP server on 127.0.0.1 for tests: it speaks enough of the OpenAI Chat Completions
 * API (`POST …/chat/completions`) and the Anthropic Messages API (`POST …/messages`) for the real
 * AI SDK clients to talk to it, answers with scripted replies, and records what it received.
 *
 * Usage:
 *
 *   const server = await startFakeLlmServer();
 *   const config = testConfig({
 *     OPENAI_BASE_URL: server.baseUrl, OPENAI_API_KEY: 'sk-test',
 *     ANTHROPIC_BASE_URL: server.baseUrl, ANTHROPIC_API_KEY: 'sk-ant-test',
 *   });
 *   server.enqueue(reply.text('Hello', { inputTokens: 12, outputTokens: 3 }), reply.status(500));
 *   // … first call gets "Hello", the second a 500; later calls get the default reply.
 *   server.requests[0].headers.authorization; // 'Bearer sk-test'
 *   await server.close();
 *
 * Replies are consumed in order, one per request; when none is queued the default reply answers
 * (`setDefault`, initially `reply.text('OK')`). A reply can also be a function of the received
 * request, e.g. to answer plan calls (which carry a JSON schema) with JSON and others with text.
 */
import * as http from 'node:http';
import { z } from 'zod';

export interface FakeUsage {
  inputTokens: number;
  outputTokens: number;
}

export type FakeApi = 'openai' | 'anthropic' | 'unknown';

export type FakeReply =
  /** A successful answer whose content is this text. */
  | { type: 'text'; text: string; usage?: FakeUsage; delayMs?: number }
  /**
   * A successful structured answer: OpenAI gets the JSON as message content; Anthropic gets a
   * `json` tool_use block when the request offered the `json` tool, else the JSON as text.
   */
  | { type: 'json'; value: unknown; usage?: FakeUsage; delayMs?: number }
  /** An API error in the provider's own error format (`{error:{message}}` / `{type:'error',…}`). */
  | {
      type: 'status';
      status: number;
      message?: string;
      headers?: Record<string, string>;
      delayMs?: number;
    }
  /** Any status, headers and body as given (e.g. an HTML page from a proxy). */
  | {
      type: 'raw';
      status: number;
      body: string;
      headers?: Record<string, string>;
      delayMs?: number;
    }
  /** Never answers (until the client gives up or the server closes). */
  | { type: 'hang' }
  /** Destroys the connection without any answer (a connection reset). */
  | { type: 'reset' };

export type FakeResponder = FakeReply | ((request: ReceivedRequest) => FakeReply);

export interface ReceivedRequest {
  /** Which API the path belongs to. */
  api: FakeApi;
  method: string;
  /** The path with its query string, e.g. `/v1/chat/completions`. */
  path: string;
  /** Lower-cased header names (`authorization`, `x-api-key`, `anthropic-version`, …). */
  headers: http.IncomingHttpHeaders;
  rawBody: string;
  /** The JSON body, or undefined when it was not JSON. */
  body: unknown;
  /** The model named in the body, when there was one. */
  model: string | undefined;
  /** The reply that was chosen for this request. */
  reply: FakeReply;
  /** True once the client closed the connection before the reply was complete. */
  clientClosed: boolean;
}

export interface FakeLlmServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `http://127.0.0.1:<port>/v1`: use as OPENAI_BASE_URL and ANTHROPIC_BASE_URL. */
  readonly baseUrl: string;
  /** Every request received, in order. */
  readonly requests: ReceivedRequest[];
  /** Queues replies, used one per request in order. */
  enqueue(...replies: FakeResponder[]): void;
  /** The reply used when the queue is empty. */
  setDefault(reply: FakeResponder): void;
  /** Resolves once at least `count` requests have arrived (rejects after `timeoutMs`). */
  waitForRequests(count: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  /** Resolves once the client closed the connection of request `index` before its answer. */
  waitForClientClose(index: number, timeoutMs?: number): Promise<void>;
  /** Forgets received requests and queued replies; the default reply becomes `reply.text('OK')`. */
  reset(): void;
  /** Closes every connection (hanging ones included) and the server. */
  close(): Promise<void>;
}

/** Reply builders. */
export const reply = {
  text: (text: string, usage?: FakeUsage): FakeReply => ({ type: 'text', text, usage }),
  json: (value: unknown, usage?: FakeUsage): FakeReply => ({ type: 'json', value, usage }),
  status: (
    status: number,
    options: { message?: string; headers?: Record<string, string> } = {},
  ): FakeReply => ({ type: 'status', status, ...options }),
  /** 429 with `Retry-After` (seconds as a number, or any header value such as an HTTP date). */
  rateLimited: (retryAfter: number | string): FakeReply => ({
    type: 'status',
    status: 429,
    message: 'Rate limit reached, slow down.',
    headers: { 'retry-after': String(retryAfter) },
  }),
  html: (status = 200, body = '<!DOCTYPE html><html><body><h1>Bad gateway</h1></body></html>') =>
    ({
      type: 'raw',
      status,
      body,
      headers: { 'content-type': 'text/html; charset=utf-8' },
    }) satisfies FakeReply,
  raw: (status: number, body: string, headers?: Record<string, string>): FakeReply => ({
    type: 'raw',
    status,
    body,
    headers,
  }),
  hang: (): FakeReply => ({ type: 'hang' }),
  reset: (): FakeReply => ({ type: 'reset' }),
  /** Delays another reply by `ms` (not for hang/reset). */
  delayed: (ms: number, inner: FakeReply): FakeReply =>
    inner.type === 'hang' || inner.type === 'reset' ? inner : { ...inner, delayMs: ms },
};

const DEFAULT_USAGE: FakeUsage = { inputTokens: 10, outputTokens: 20 };

const bodyShape = z.looseObject({
  model: z.string().optional(),
  tools: z.array(z.looseObject({ name: z.string().optional() })).optional(),
});

function apiOf(path: string): FakeApi {
  const pathname = path.split('?')[0] ?? '';
  if (pathname.endsWith('/chat/completions')) return 'openai';
  if (pathname.endsWith('/messages')) return 'anthropic';
  return 'unknown';
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorBody(api: FakeApi, status: number, message: string): unknown {
  if (api === 'anthropic') {
    const type =
      status === 429
        ? 'rate_limit_error'
        : status === 401
          ? 'authentication_error'
          : status >= 500
            ? 'api_error'
            : 'invalid_request_error';
    return { type: 'error', error: { type, message } };
  }
  return { error: { message, type: status >= 500 ? 'server_error' : 'invalid_request_error' } };
}

function successBody(
  api: FakeApi,
  request: ReceivedRequest,
  content: { text: string } | { json: unknown },
  usage: FakeUsage,
): unknown {
  const model = request.model ?? 'fake-model';
  if (api === 'anthropic') {
    const parsed = bodyShape.safeParse(request.body);
    const offersJsonTool =
      parsed.success && (parsed.data.tools ?? []).some((tool) => tool.name === 'json');
    const block =
      'json' in content
        ? offersJsonTool
          ? { type: 'tool_use', id: 'toolu_fake_1', name: 'json', input: content.json }
          : { type: 'text', text: JSON.stringify(content.json) }
        : { type: 'text', text: content.text };
    return {
      id: 'msg_fake_1',
      type: 'message',
      role: 'assistant',
      model,
      content: [block],
      stop_reason: block.type === 'tool_use' ? 'tool_use' : 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens },
    };
  }
  return {
    id: 'chatcmpl-fake-1',
    object: 'chat.completion',
    created: 1_700_000_000,
    model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: 'json' in content ? JSON.stringify(content.json) : content.text,
        },
        finish_reason: 'stop',
      },
    ],
    usage: {
      prompt_tokens: usage.inputTokens,
      completion_tokens: usage.outputTokens,
      total_tokens: usage.inputTokens + usage.outputTokens,
    },
  };
}

function send(
  res: http.ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
}

function answer(request: ReceivedRequest, res: http.ServerResponse): void {
  const r = request.reply;
  switch (r.type) {
    case 'hang':
      return;
    case 'reset':
      res.socket?.destroy();
      return;
    case 'raw':
      send(res, r.status, r.body, r.headers);
      return;
    case 'status': {
      const message = r.message ?? http.STATUS_CODES[r.status] ?? 'error';
      send(res, r.status, JSON.stringify(errorBody(request.api, r.status, message)), r.headers);
      return;
    }
    case 'text':
    case 'json': {
      if (request.api === 'unknown') {
        send(res, 404, JSON.stringify(errorBody('openai', 404, `No route ${request.path}`)));
        return;
      }
      const content = r.type === 'text' ? { text: r.text } : { json: r.value };
      const body = successBody(request.api, request, content, r.usage ?? DEFAULT_USAGE);
      send(res, 200, JSON.stringify(body));
      return;
    }
  }
}

function delayOf(r: FakeReply): number {
  return r.type === 'hang' || r.type === 'reset' ? 0 : (r.delayMs ?? 0);
}

async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`fake LLM server: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Starts the fake server on 127.0.0.1 with an ephemeral port. */
export async function startFakeLlmServer(
  options: { defaultReply?: FakeResponder } = {},
): Promise<FakeLlmServer> {
  const requests: ReceivedRequest[] = [];
  const queue: FakeResponder[] = [];
  let fallback: FakeResponder = options.defaultReply ?? reply.text('OK');

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const body = parseJson(rawBody);
      const shape = bodyShape.safeParse(body);
      const received: ReceivedRequest = {
        api: apiOf(req.url ?? ''),
        method: req.method ?? 'GET',
        path: req.url ?? '',
        headers: req.headers,
        rawBody,
        body,
        model: shape.success ? shape.data.model : undefined,
        reply: { type: 'hang' },
        clientClosed: false,
      };
      const responder = queue.shift() ?? fallback;
      received.reply = typeof responder === 'function' ? responder(received) : responder;
      requests.push(received);
      res.on('close', () => {
        if (!res.writableFinished) received.clientClosed = true;
      });
      const delay = delayOf(received.reply);
      if (delay > 0) {
        setTimeout(() => {
          if (!received.clientClosed) answer(received, res);
        }, delay);
      } else {
        answer(received, res);
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fake LLM server: no port');
  const url = `http://127.0.0.1:${address.port}`;

  return {
    url,
    baseUrl: `${url}/v1`,
    requests,
    enqueue: (...replies) => {
      queue.push(...replies);
    },
    setDefault: (responder) => {
      fallback = responder;
    },
    waitForRequests: async (count, timeoutMs = 2000) => {
      await waitUntil(() => requests.length >= count, timeoutMs, `${count} request(s)`);
      return requests;
    },
    waitForClientClose: (index, timeoutMs = 2000) =>
      waitUntil(
        () => requests[index]?.clientClosed === true,
        timeoutMs,
        `the client to close request ${index}`,
      ),
    reset: () => {
      requests.length = 0;
      queue.length = 0;
      fallback = reply.text('OK');
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}

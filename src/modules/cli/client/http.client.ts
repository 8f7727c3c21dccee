import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { problemSchema } from '../../../common/http/problem';
import type { Page } from '../../../common/pagination';
import {
  agentListSchema,
  agentSchema,
  type Agent,
  type CreateAgentInput,
  type ListAgentsQuery,
  type UpdateAgentInput,
} from '../../agents/agents.contract';
import { TERMINAL_EVENT_TYPES } from '../../workflows/workflow-event-types';
import {
  eventSchema,
  workflowDetailSchema,
  workflowSchema,
  type ListWorkflowsQuery,
  type SubmitWorkflowInput,
  type Workflow,
  type WorkflowDetail,
  type WorkflowEvent,
} from '../../workflows/workflows.contract';
import { pageSchema } from '../../../common/pagination';
import { ApiError, ProtocolError, UnreachableError } from '../cli-errors';
import type { BroskiClient, EventPageQuery } from './broski-client';
import { SseParser } from './sse-parser';
import { messageOf } from '../../../common/error-message';

const workflowPageSchema = pageSchema(workflowSchema);
const eventPageSchema = pageSchema(eventSchema);

/** How a failed fetch explains itself: `TypeError('fetch failed')` with the socket error as cause. */
const networkCauseSchema = z.object({
  cause: z.object({ code: z.string().optional(), message: z.string().optional() }),
});

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'the host name could not be resolved',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'the connection was reset',
  ETIMEDOUT: 'the connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
  UND_ERR_SOCKET: 'the connection was closed',
};

/** How many times a live stream that ends early (server restart, drain) is resumed. */
const MAX_STREAM_RESUMES = 8;

type Query = Record<string, string | number | boolean | undefined>;

interface RequestOptions<T> {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  query?: Query;
  body?: unknown;
  schema: z.ZodType<T>;
}

/**
 * The typed HTTP client of the Broski API: every answer is parsed with the contract schema the
 * server itself answers with; problem+json refusals become `ApiError`s.
 */
export class HttpClient implements BroskiClient {
  readonly mode = 'http' as const;
  readonly runsWorkflows = false;
  readonly target: string;
  private readonly base: string;

  constructor(
    apiUrl: string,
    private readonly apiKey: string | undefined,
    private readonly timeoutMs = 30_000,
  ) {
    this.base = normalizeApiUrl(apiUrl);
    this.target = this.base;
  }

  submit(input: SubmitWorkflowInput): Promise<WorkflowDetail> {
    return this.request('/api/v1/workflows', {
      method: 'POST',
      body: input,
      schema: workflowDetailSchema,
    });
  }

  listWorkflows(query: ListWorkflowsQuery): Promise<Page<Workflow>> {
    return this.request('/api/v1/workflows', { query, schema: workflowPageSchema });
  }

  getWorkflow(id: string): Promise<WorkflowDetail> {
    return this.request(`/api/v1/workflows/${encodeURIComponent(id)}`, {
      schema: workflowDetailSchema,
    });
  }

  listEvents(id: string, query: EventPageQuery): Promise<Page<WorkflowEvent>> {
    return this.request(`/api/v1/workflows/${encodeURIComponent(id)}/events`, {
      query: { after: query.after, limit: query.limit },
      schema: eventPageSchema,
    });
  }

  async *followEvents(
    id: string,
    after: number,
    signal: AbortSignal,
  ): AsyncGenerator<WorkflowEvent> {
    let cursor = after;
    let resumes = 0;
    while (!signal.aborted) {
      const url = this.url(`/api/v1/workflows/${encodeURIComponent(id)}/events`, {
        after: cursor,
      });
      let response: Response;
      try {
        response = await fetch(url, {
          headers: this.headers({ accept: 'text/event-stream', 'last-event-id': String(cursor) }),
          signal,
        });
      } catch (error) {
        if (signal.aborted) return;
        // The server went away while we followed (restart): try again a few times.
        if (resumes < MAX_STREAM_RESUMES && cursor > after) {
          resumes += 1;
          await pause(resumes, signal);
          continue;
        }
        throw this.networkError(error);
      }
      if (!response.ok) throw await this.problemOf(response);
      let progressed = false;
      try {
        for await (const event of this.readEvents(response, signal)) {
          cursor = event.id;
          progressed = true;
          yield event;
          if (TERMINAL_EVENT_TYPES.includes(event.type)) return;
        }
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof ProtocolError) throw error;
        // The connection broke mid-stream: resume below from the last event seen.
      }
      if (progressed) resumes = 0;
      resumes += 1;
      if (resumes > MAX_STREAM_RESUMES) {
        throw new UnreachableError(this.base, 'the event stream keeps ending early');
      }
      await pause(resumes, signal);
    }
  }

  cancel(id: string): Promise<WorkflowDetail> {
    return this.action(id, 'cancel');
  }

  approve(id: string): Promise<WorkflowDetail> {
    return this.action(id, 'approve');
  }

  reject(id: string): Promise<WorkflowDetail> {
    return this.action(id, 'reject');
  }

  retry(id: string): Promise<WorkflowDetail> {
    return this.action(id, 'retry');
  }

  listAgents(query: ListAgentsQuery): Promise<Page<Agent>> {
    return this.request('/api/v1/agents', { query, schema: agentListSchema });
  }

  getAgent(type: string): Promise<Agent> {
    return this.request(`/api/v1/agents/${encodeURIComponent(type)}`, { schema: agentSchema });
  }

  createAgent(input: CreateAgentInput): Promise<Agent> {
    return this.request('/api/v1/agents', { method: 'POST', body: input, schema: agentSchema });
  }

  updateAgent(type: string, input: UpdateAgentInput): Promise<Agent> {
    return this.request(`/api/v1/agents/${encodeURIComponent(type)}`, {
      method: 'PATCH',
      body: input,
      schema: agentSchema,
    });
  }

  disableAgent(type: string): Promise<Agent> {
    return this.request(`/api/v1/agents/${encodeURIComponent(type)}`, {
      method: 'DELETE',
      schema: agentSchema,
    });
  }

  async close(): Promise<void> {
    // Nothing held: fetch's connection pool does not keep the process alive.
  }

  private action(id: string, name: string): Promise<WorkflowDetail> {
    return this.request(`/api/v1/workflows/${encodeURIComponent(id)}/${name}`, {
      method: 'POST',
      schema: workflowDetailSchema,
    });
  }

  private async request<T>(path: string, options: RequestOptions<T>): Promise<T> {
    const init: RequestInit = {
      method: options.method ?? 'GET',
      headers: this.headers(
        options.body === undefined
          ? { accept: 'application/json' }
          : { accept: 'application/json', 'content-type': 'application/json' },
      ),
      signal: AbortSignal.timeout(this.timeoutMs),
    };
    if (options.body !== undefined) init.body = JSON.stringify(options.body);
    let response: Response;
    try {
      response = await fetch(this.url(path, options.query), init);
    } catch (error) {
      throw this.networkError(error);
    }
    if (!response.ok) throw await this.problemOf(response);
    const body = await this.jsonOf(response);
    const parsed = options.schema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where =
        issue === undefined ? '' : ` at ${issue.path.map(String).join('.') || '(root)'}`;
      throw new ProtocolError(
        `the server's answer to ${init.method} ${path} does not match the API contract${where}: ${issue?.message ?? 'invalid'}`,
      );
    }
    return parsed.data;
  }

  private async *readEvents(
    response: Response,
    signal: AbortSignal,
  ): AsyncGenerator<WorkflowEvent> {
    if (response.body === null) return;
    const parser = new SseParser();
    const decoder = new TextDecoder();
    // undici types the body as ReadableStream<any>: read it as unknown chunks, checked below.
    // type-coverage:ignore-next-line
    const reader: ReadableStreamDefaultReader<unknown> = response.body.getReader();
    for (;;) {
      const read = await reader.read();
      if (read.done || signal.aborted) return;
      const chunk: unknown = read.value;
      if (!(chunk instanceof Uint8Array)) throw new ProtocolError('the event stream is not bytes');
      for (const message of parser.push(decoder.decode(chunk, { stream: true }))) {
        let data: unknown;
        try {
          data = JSON.parse(message.data);
        } catch {
          throw new ProtocolError(`the event stream sent data that is not JSON: ${message.data}`);
        }
        const event = eventSchema.safeParse(data);
        if (!event.success) {
          throw new ProtocolError(
            `the event stream sent an event that does not match the API contract: ${event.error.issues[0]?.message ?? 'invalid'}`,
          );
        }
        yield event.data;
      }
    }
  }

  private url(path: string, query: Query = {}): string {
    const url = new URL(`${this.base}${path}`);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url.toString();
  }

  private headers(extra: Record<string, string>): Record<string, string> {
    return this.apiKey === undefined ? extra : { ...extra, authorization: `Bearer ${this.apiKey}` };
  }

  private async jsonOf(response: Response): Promise<unknown> {
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch {
      throw new ProtocolError(
        `the server at ${this.base} answered ${response.status} with a body that is not JSON`,
      );
    }
  }

  private async problemOf(response: Response): Promise<ApiError> {
    const requestId = response.headers.get('x-request-id') ?? undefined;
    let body: unknown;
    try {
      body = JSON.parse(await response.text());
    } catch {
      body = undefined;
    }
    const problem = problemSchema.safeParse(body);
    if (problem.success) {
      const p = problem.data;
      return new ApiError(p.status, p.code, p.detail, p.errors ?? [], p.requestId ?? requestId);
    }
    return new ApiError(
      response.status,
      `http_${response.status}`,
      `the server answered HTTP ${response.status} ${response.statusText}`.trim(),
      [],
      requestId,
    );
  }

  private networkError(error: unknown): Error {
    if (error instanceof Error && error.name === 'TimeoutError') {
      return new UnreachableError(this.base, `no answer within ${this.timeoutMs / 1000} s`);
    }
    const cause = networkCauseSchema.safeParse(error);
    if (cause.success) {
      const code = cause.data.cause.code;
      const reason =
        (code === undefined ? undefined : NETWORK_REASONS[code]) ??
        cause.data.cause.message ??
        code ??
        'network error';
      return new UnreachableError(this.base, reason);
    }
    return new UnreachableError(this.base, messageOf(error));
  }
}

/** Accepts `http://host:3000`, with or without a trailing slash or `/api/v1`. */
export function normalizeApiUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TypeError(`"${raw}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`"${raw}" is not an http(s) URL`);
  }
  const path = url.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
  return `${url.origin}${path}`;
}

function pause(attempt: number, signal: AbortSignal): Promise<void> {
  return sleep(Math.min(2000, 100 * 2 ** attempt), undefined, { signal }).catch(() => undefined);
}

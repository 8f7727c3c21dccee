import type { z } from 'zod';

export const PROVIDER_NAMES = ['offline', 'openai', 'anthropic'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** What a model call is for. The offline model uses it to answer sensibly without a network. */
export type CallPurpose = 'plan' | 'step' | 'safety' | 'summary';

export interface AgentBrief {
  type: string;
  name: string;
  description: string;
}

export interface StepOutputBrief {
  key: string;
  title: string;
  agentType: string;
  output: string;
}

/**
 * Structured context of a call. Real providers only see `system` and `prompt` (built from it by
 * the orchestrator); the offline model reads it to build a deterministic answer.
 */
export type CallContext =
  | {
      purpose: 'plan';
      request: string;
      agents: AgentBrief[];
      maxSteps: number;
      /** Errors of the previous plan, on a repair attempt. */
      previousErrors?: string[];
    }
  | {
      purpose: 'step';
      request: string;
      agentType: string;
      title: string;
      instructions: string;
      dependencies: StepOutputBrief[];
    }
  | { purpose: 'safety'; request: string; outputs: StepOutputBrief[] }
  | {
      purpose: 'summary';
      request: string;
      outputs: StepOutputBrief[];
      safety: { approved: boolean; notes: string };
    };

/** Who the call is made for; recorded with the call in `llm_calls`. */
export interface CallOwner {
  workflowId: string;
  taskId: string | null;
  agentType: string;
}

export interface LlmRequest<T = unknown> {
  /** `provider:model`, e.g. `offline`, `openai:gpt-4o-mini`, `anthropic:claude-sonnet-4-5`. */
  model: string;
  system: string;
  prompt: string;
  temperature?: number | null;
  maxOutputTokens?: number | null;
  /** When set, the answer must be a JSON object matching this schema (returned as `object`). */
  schema?: z.ZodType<T>;
  context: CallContext;
  owner: CallOwner;
  /** Aborts the call (cancel, shutdown); the per-call timeout is added by the LLM service. */
  signal?: AbortSignal;
}

export interface LlmUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface LlmResponse<T = unknown> {
  text: string;
  /** The parsed object when the request had a schema. */
  object: T | undefined;
  usage: LlmUsage;
  provider: ProviderName;
  model: string;
  latencyMs: number;
}

/** What one provider implements: a single call, no retries (the orchestrator retries). */
export interface LlmProvider {
  readonly name: ProviderName;
  generate<T>(
    request: Omit<LlmRequest<T>, 'model' | 'owner'> & { model: string; signal: AbortSignal },
  ): Promise<{ text: string; object: T | undefined; usage: LlmUsage }>;
}

/** What a provider receives: the request with a bare model id and the combined abort signal. */
export type ProviderCall<T> = Omit<LlmRequest<T>, 'model' | 'owner'> & {
  model: string;
  signal: AbortSignal;
};

/** What a provider answers. */
export interface ProviderResult<T> {
  text: string;
  object: T | undefined;
  usage: LlmUsage;
}

export const LLM_ERROR_CODES = [
  'rate_limited',
  'provider_unavailable',
  'timeout',
  'malformed_response',
  'authentication_failed',
  'invalid_request',
  'aborted',
  'unknown_provider',
] as const;
export type LlmErrorCode = (typeof LLM_ERROR_CODES)[number];

const RETRYABLE: ReadonlySet<LlmErrorCode> = new Set([
  'rate_limited',
  'provider_unavailable',
  'timeout',
  'malformed_response',
]);

/** A classified failure of a model call. */
export class LlmError extends Error {
  readonly retryable: boolean;

  constructor(
    readonly code: LlmErrorCode,
    message: string,
    /** For 429: how long the provider asked us to wait (from Retry-After), in ms. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LlmError';
    this.retryable = RETRYABLE.has(code);
  }
}

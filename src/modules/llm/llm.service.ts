import { Inject, Injectable } from '@nestjs/common';
import { NoObjectGeneratedError } from 'ai';
import { PinoLogger } from 'nestjs-pino';
import { performance } from 'node:perf_hooks';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { newId, nowIso } from '../../common/ids';
import { AnthropicProvider } from './anthropic.provider';
import { classifyError, providerLabel, redact, type ProviderErrorContext } from './classify-error';
import { LlmCallsRepository } from './llm-calls.repository';
import {
  LlmError,
  PROVIDER_NAMES,
  type LlmProvider,
  type LlmRequest,
  type LlmResponse,
  type LlmUsage,
  type ProviderName,
} from './llm.types';
import { OfflineProvider } from './offline.provider';
import { OpenAiProvider } from './openai.provider';

export { backoffDelayMs, MAX_BACKOFF_MS } from './backoff';

export interface ModelRef {
  provider: ProviderName;
  /** The provider's model id (`gpt-4o-mini`); `offline` for the offline model. */
  model: string;
}

function isProviderName(value: string): value is ProviderName {
  return PROVIDER_NAMES.some((name) => name === value);
}

/**
 * Splits `provider:model`. `offline` alone is valid; `openai` and `anthropic` need a model id.
 * Throws LlmError('unknown_provider') for any other provider.
 */
export function parseModelName(name: string): ModelRef {
  const trimmed = name.trim();
  const colon = trimmed.indexOf(':');
  const provider = colon < 0 ? trimmed : trimmed.slice(0, colon);
  const model = colon < 0 ? '' : trimmed.slice(colon + 1).trim();
  if (!isProviderName(provider)) {
    throw new LlmError(
      'unknown_provider',
      `Unknown model provider "${provider}" in "${trimmed}": use "offline", "openai:<model>" or "anthropic:<model>".`,
    );
  }
  if (provider === 'offline') return { provider, model: model === '' ? 'offline' : model };
  if (model === '') {
    throw new LlmError(
      'invalid_request',
      `The model "${trimmed}" names no model: write it as "${provider}:<model>".`,
    );
  }
  return { provider, model };
}

/**
 * The one way the platform calls a model: picks the provider from `provider:model`, adds the
 * per-call timeout to the caller's abort signal, makes exactly one attempt (the orchestrator
 * retries with `backoffDelayMs`), checks the structured answer, and records every call, success or
 * failure, in `llm_calls`.
 */
@Injectable()
export class LlmService {
  private readonly providers: ReadonlyMap<ProviderName, LlmProvider>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly calls: LlmCallsRepository,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(LlmService.name);
    const llm = config.llm;
    this.providers = new Map<ProviderName, LlmProvider>([
      ['offline', new OfflineProvider(llm.offlineLatencyMs)],
      ['openai', new OpenAiProvider(llm.openai)],
      ['anthropic', new AnthropicProvider(llm.anthropic)],
    ]);
    // The AI SDK prints provider warnings (e.g. an unsupported setting) with console.warn; route
    // them to the structured log instead.
    globalThis.AI_SDK_LOG_WARNINGS = (options) => {
      this.logger.debug(
        { provider: options.provider, model: options.model, warnings: options.warnings },
        'model provider warnings',
      );
    };
  }

  async generate<T>(request: LlmRequest<T>): Promise<LlmResponse<T>> {
    const started = performance.now();
    const elapsed = () => Math.max(0, Math.round(performance.now() - started));
    const timeout = AbortSignal.timeout(this.config.llm.timeoutMs);
    const signal =
      request.signal === undefined ? timeout : AbortSignal.any([request.signal, timeout]);
    let ref: ModelRef | undefined;
    try {
      ref = parseModelName(request.model);
      const provider = this.providers.get(ref.provider);
      if (provider === undefined) {
        throw new LlmError('unknown_provider', `No provider "${ref.provider}" is configured.`);
      }
      const result = await provider.generate<T>({
        system: request.system,
        prompt: request.prompt,
        temperature: request.temperature,
        maxOutputTokens: request.maxOutputTokens,
        schema: request.schema,
        context: request.context,
        model: ref.model,
        signal,
      });
      if (request.schema !== undefined && result.object === undefined) {
        throw new LlmError(
          'malformed_response',
          `The ${this.label(ref.provider)} answered without the expected JSON object.`,
        );
      }
      if (request.schema === undefined && result.text.trim() === '') {
        throw new LlmError(
          'malformed_response',
          `The ${this.label(ref.provider)} answered with an empty message.`,
        );
      }
      const latencyMs = elapsed();
      this.record(request, ref, latencyMs, result.usage, undefined);
      this.logger.debug(
        {
          ...request.owner,
          purpose: request.context.purpose,
          provider: ref.provider,
          model: ref.model,
          latencyMs,
          ...result.usage,
        },
        'model call succeeded',
      );
      return { ...result, provider: ref.provider, model: ref.model, latencyMs };
    } catch (caught) {
      const error = this.failure(caught, ref, request.signal, timeout);
      const latencyMs = elapsed();
      this.record(request, ref, latencyMs, usageOf(caught), error);
      const fields = {
        ...request.owner,
        purpose: request.context.purpose,
        provider: ref?.provider ?? null,
        model: ref?.model ?? request.model,
        latencyMs,
        code: error.code,
        retryable: error.retryable,
        retryAfterMs: error.retryAfterMs,
        error: error.message,
      };
      // A cancelled call is routine; everything else deserves attention.
      if (error.code === 'aborted') this.logger.debug(fields, 'model call aborted');
      else this.logger.warn(fields, 'model call failed');
      throw error;
    }
  }

  private label(provider: ProviderName): string {
    return providerLabel(this.errorContext(provider));
  }

  private errorContext(provider: ProviderName): ProviderErrorContext {
    switch (provider) {
      case 'openai':
        return {
          provider,
          baseUrl: this.config.llm.openai.baseUrl,
          secrets: [this.config.llm.openai.apiKey],
          apiKeyVariable: 'OPENAI_API_KEY',
        };
      case 'anthropic':
        return {
          provider,
          baseUrl: this.config.llm.anthropic.baseUrl,
          secrets: [this.config.llm.anthropic.apiKey],
          apiKeyVariable: 'ANTHROPIC_API_KEY',
        };
      case 'offline':
        return { provider, baseUrl: '', secrets: [], apiKeyVariable: '' };
    }
  }

  private allSecrets(): Array<string | undefined> {
    return [this.config.llm.openai.apiKey, this.config.llm.anthropic.apiKey];
  }

  /** Which signal fired decides between `aborted` (the caller) and `timeout` (ours). */
  private failure(
    caught: unknown,
    ref: ModelRef | undefined,
    callerSignal: AbortSignal | undefined,
    timeout: AbortSignal,
  ): LlmError {
    const who = ref === undefined ? 'model' : this.label(ref.provider);
    const name = ref === undefined ? '' : ` (${ref.provider}:${ref.model})`;
    if (callerSignal?.aborted === true) {
      return new LlmError('aborted', `The call to the ${who}${name} was aborted.`, undefined, {
        cause: caught,
      });
    }
    if (timeout.aborted) {
      return new LlmError(
        'timeout',
        `The ${who}${name} did not answer within ${this.config.llm.timeoutMs} ms (LLM_TIMEOUT_MS).`,
        undefined,
        { cause: caught },
      );
    }
    const classified =
      caught instanceof LlmError
        ? caught
        : classifyError(caught, this.errorContext(ref?.provider ?? 'offline'));
    // Belt and braces: no key of any provider may reach a stored or shown message.
    const message = redact(classified.message, this.allSecrets());
    return message === classified.message
      ? classified
      : new LlmError(classified.code, message, classified.retryAfterMs, {
          cause: classified.cause,
        });
  }

  private record(
    request: LlmRequest<unknown>,
    ref: ModelRef | undefined,
    latencyMs: number,
    usage: LlmUsage,
    error: LlmError | undefined,
  ): void {
    try {
      this.calls.insert({
        id: newId(),
        workflowId: request.owner.workflowId,
        taskId: request.owner.taskId,
        agentType: request.owner.agentType,
        purpose: request.context.purpose,
        provider: ref?.provider ?? request.model.split(':')[0] ?? request.model,
        model: ref?.model ?? request.model,
        inputTokens: usage.inputTokens,
        outputTokens: usage.outputTokens,
        latencyMs,
        status: error === undefined ? 'ok' : 'error',
        error: error === undefined ? null : `${error.code}: ${error.message}`,
        createdAt: nowIso(),
      });
    } catch (insertError) {
      // Losing a usage row must not turn a good answer into a failure; make it loud instead.
      this.logger.error(
        {
          ...request.owner,
          err: insertError instanceof Error ? insertError.message : String(insertError),
        },
        'could not record the model call in llm_calls',
      );
    }
  }
}

/** Tokens a failed call still consumed (an answer that did not match the schema was generated). */
function usageOf(error: unknown): LlmUsage {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth += 1) {
    if (NoObjectGeneratedError.isInstance(current) && current.usage !== undefined) {
      return {
        inputTokens: current.usage.inputTokens ?? 0,
        outputTokens: current.usage.outputTokens ?? 0,
      };
    }
    current = current.cause;
  }
  return { inputTokens: 0, outputTokens: 0 };
}

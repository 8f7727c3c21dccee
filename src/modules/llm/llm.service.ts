import { Inject, Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { performance } from 'node:perf_hooks';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { newId, nowIso } from '../../common/ids';
import type * as SdkErrors from './classify-error';
import { Transactor } from '../database/transactor';
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
import { providerLabel, redact, type ProviderErrorContext } from './provider-context';
import { messageOf } from '../../common/error-message';

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
  private readonly offline: OfflineProvider;
  /**
   * The OpenAI-compatible and Anthropic providers, created on first use: they load the AI SDK
   * (about 25 MB of memory), which a platform running only the offline model never needs.
   */
  private readonly sdkProviders = new Map<'openai' | 'anthropic', Promise<LlmProvider>>();
  /** The AI SDK's error helpers; loaded with the first SDK provider or the first unknown error. */
  private sdkErrors: typeof SdkErrors | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly calls: LlmCallsRepository,
    private readonly tx: Transactor,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(LlmService.name);
    const llm = config.llm;
    this.offline = new OfflineProvider(llm.offlineLatencyMs);
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
    // One controller for the caller's signal and LLM_TIMEOUT_MS, released when the call ends
    // (AbortSignal.timeout would keep a timer and a signal alive until the timeout, per call).
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new DOMException('The model call timed out', 'TimeoutError'));
    }, this.config.llm.timeoutMs);
    const callerSignal = request.signal;
    const onCallerAbort = () => {
      // AbortSignal.reason is typed `any` by the DOM typings.
      // type-coverage:ignore-next-line
      const reason: unknown = callerSignal?.reason;
      controller.abort(reason);
    };
    if (callerSignal?.aborted === true) onCallerAbort();
    else callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    const signal = controller.signal;
    let ref: ModelRef | undefined;
    try {
      ref = parseModelName(request.model);
      const provider =
        ref.provider === 'offline' ? this.offline : await this.sdkProvider(ref.provider);
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
      // Built only when it is written: this runs for every model call.
      if (this.logger.logger.isLevelEnabled('debug')) {
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
      }
      return {
        text: result.text,
        object: result.object,
        usage: result.usage,
        provider: ref.provider,
        model: ref.model,
        latencyMs,
      };
    } catch (caught) {
      const error = await this.failure(caught, ref, callerSignal, timedOut);
      const latencyMs = elapsed();
      // An AI SDK error (the only kind that carries usage) exists only once the SDK is loaded.
      const usage = this.sdkErrors?.usageOf(caught) ?? { inputTokens: 0, outputTokens: 0 };
      this.record(request, ref, latencyMs, usage, error);
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
    } finally {
      clearTimeout(timer);
      callerSignal?.removeEventListener('abort', onCallerAbort);
    }
  }

  private sdkProvider(name: 'openai' | 'anthropic'): Promise<LlmProvider> {
    let provider = this.sdkProviders.get(name);
    if (provider === undefined) {
      provider = this.loadSdkProvider(name);
      this.sdkProviders.set(name, provider);
      // A failed load is not cached: the next call tries again.
      void provider.catch(() => this.sdkProviders.delete(name));
    }
    return provider;
  }

  private async loadSdkProvider(name: 'openai' | 'anthropic'): Promise<LlmProvider> {
    await this.loadSdkErrors();
    if (name === 'openai') {
      const { OpenAiProvider } = await import('./openai.provider');
      return new OpenAiProvider(this.config.llm.openai);
    }
    const { AnthropicProvider } = await import('./anthropic.provider');
    return new AnthropicProvider(this.config.llm.anthropic);
  }

  private async loadSdkErrors(): Promise<typeof SdkErrors> {
    this.sdkErrors ??= await import('./classify-error');
    return this.sdkErrors;
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
  private async failure(
    caught: unknown,
    ref: ModelRef | undefined,
    callerSignal: AbortSignal | undefined,
    timedOut: boolean,
  ): Promise<LlmError> {
    const who = ref === undefined ? 'model' : this.label(ref.provider);
    const name = ref === undefined ? '' : ` (${ref.provider}:${ref.model})`;
    if (callerSignal?.aborted === true) {
      return new LlmError('aborted', `The call to the ${who}${name} was aborted.`, undefined, {
        cause: caught,
      });
    }
    if (timedOut) {
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
        : (await this.loadSdkErrors()).classifyError(
            caught,
            this.errorContext(ref?.provider ?? 'offline'),
          );
    // Belt and braces: no key of any provider may reach a stored or shown message.
    const message = redact(classified.message, this.allSecrets());
    return message === classified.message
      ? classified
      : new LlmError(classified.code, message, classified.retryAfterMs, {
          cause: classified.cause,
        });
  }

  /**
   * Records the call in `llm_calls`: written with the caller's next transaction (the step or plan
   * that made the call stores its result right after), see `Transactor.defer`.
   */
  private record(
    request: LlmRequest<unknown>,
    ref: ModelRef | undefined,
    latencyMs: number,
    usage: LlmUsage,
    error: LlmError | undefined,
  ): void {
    const row = {
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
      status: error === undefined ? ('ok' as const) : ('error' as const),
      error: error === undefined ? null : `${error.code}: ${error.message}`,
      createdAt: nowIso(),
    };
    this.tx.defer(() => {
      try {
        this.calls.insert(row);
      } catch (insertError) {
        // Losing a usage row must not turn a good answer into a failure; make it loud instead.
        this.logger.error(
          {
            ...request.owner,
            err: messageOf(insertError),
          },
          'could not record the model call in llm_calls',
        );
      }
    });
  }
}

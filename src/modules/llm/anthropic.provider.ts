import { createAnthropic, type AnthropicProvider as AnthropicClient } from '@ai-sdk/anthropic';
import type { AppConfig } from '../../config/app-config';
import { callLanguageModel } from './ai-sdk-call';
import { classifyError, providerLabel, type ProviderErrorContext } from './classify-error';
import { LlmError, type LlmProvider, type ProviderCall, type ProviderResult } from './llm.types';

/** `anthropic:<model>`: the Anthropic Messages API. */
export class AnthropicProvider implements LlmProvider {
  readonly name = 'anthropic' as const;
  private readonly client: AnthropicClient;
  private readonly errorContext: ProviderErrorContext;

  constructor(private readonly settings: AppConfig['llm']['anthropic']) {
    this.client = createAnthropic({ baseURL: settings.baseUrl, apiKey: settings.apiKey });
    this.errorContext = {
      provider: 'anthropic',
      baseUrl: settings.baseUrl,
      secrets: [settings.apiKey],
      apiKeyVariable: 'ANTHROPIC_API_KEY',
    };
  }

  async generate<T>(call: ProviderCall<T>): Promise<ProviderResult<T>> {
    // Checked here: the SDK would otherwise fall back to reading the environment itself.
    if (this.settings.apiKey === undefined) {
      throw new LlmError(
        'authentication_failed',
        `No API key for the ${providerLabel(this.errorContext)}: set ANTHROPIC_API_KEY.`,
      );
    }
    try {
      // Anthropic accepts temperatures from 0 to 1 (OpenAI up to 2): clamp rather than fail.
      return await callLanguageModel(this.client.messages(call.model), call, {
        maxTemperature: 1,
      });
    } catch (error) {
      throw classifyError(error, this.errorContext);
    }
  }
}

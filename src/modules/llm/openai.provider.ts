import { createOpenAICompatible, type OpenAICompatibleProvider } from '@ai-sdk/openai-compatible';
import type { AppConfig } from '../../config/app-config';
import { callLanguageModel } from './ai-sdk-call';
import { classifyError, providerLabel, type ProviderErrorContext } from './classify-error';
import { LlmError, type LlmProvider, type ProviderCall, type ProviderResult } from './llm.types';

/** True when the base URL is OpenAI's own API (which needs a key; local servers usually do not). */
export function isOpenAiHosted(baseUrl: string): boolean {
  try {
    return new URL(baseUrl).hostname.toLowerCase() === 'api.openai.com';
  } catch {
    return false;
  }
}

/**
 * `openai:<model>`: the Chat Completions API, which every OpenAI-compatible server speaks
 * (OpenAI, Ollama, vLLM, LM Studio, llama.cpp, OpenRouter). The key is optional for servers other
 * than api.openai.com.
 */
export class OpenAiProvider implements LlmProvider {
  readonly name = 'openai' as const;
  private readonly client: OpenAICompatibleProvider;
  private readonly errorContext: ProviderErrorContext;

  constructor(private readonly settings: AppConfig['llm']['openai']) {
    this.client = createOpenAICompatible({
      name: 'openai',
      baseURL: settings.baseUrl,
      apiKey: settings.apiKey,
      // Send the JSON schema (response_format json_schema): OpenAI, Ollama, vLLM, LM Studio and
      // llama.cpp all understand it. Not strict, so schemas with optional fields are accepted;
      // the answer is validated against the schema anyway.
      supportsStructuredOutputs: true,
    });
    this.errorContext = {
      provider: 'openai',
      baseUrl: settings.baseUrl,
      secrets: [settings.apiKey],
      apiKeyVariable: 'OPENAI_API_KEY',
    };
  }

  async generate<T>(call: ProviderCall<T>): Promise<ProviderResult<T>> {
    if (this.settings.apiKey === undefined && isOpenAiHosted(this.settings.baseUrl)) {
      throw new LlmError(
        'authentication_failed',
        `No API key for the ${providerLabel(this.errorContext)}: set OPENAI_API_KEY, or set OPENAI_BASE_URL to an OpenAI-compatible server that needs none (such as Ollama).`,
      );
    }
    try {
      return await callLanguageModel(this.client.chatModel(call.model), call, {
        providerOptions: { openai: { strictJsonSchema: false } },
      });
    } catch (error) {
      throw classifyError(error, this.errorContext);
    }
  }
}

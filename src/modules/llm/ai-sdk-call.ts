import { generateText, Output, type LanguageModel, type LanguageModelUsage } from 'ai';
import type { ProviderCall, ProviderResult } from './llm.types';

type ProviderOptions = NonNullable<Parameters<typeof generateText>[0]['providerOptions']>;

function toUsage(usage: LanguageModelUsage): ProviderResult<never>['usage'] {
  return { inputTokens: usage.inputTokens ?? 0, outputTokens: usage.outputTokens ?? 0 };
}

/**
 * One model call through the AI SDK: no SDK retries (the orchestrator retries with backoff), the
 * caller's abort signal, and structured output the ai v6 way (`generateText` with
 * `output: Output.object({ schema })`, which sends the JSON schema to the provider and validates
 * the answer, throwing NoObjectGeneratedError on a mismatch).
 */
export async function callLanguageModel<T>(
  model: LanguageModel,
  call: ProviderCall<T>,
  options: { maxTemperature?: number; providerOptions?: ProviderOptions } = {},
): Promise<ProviderResult<T>> {
  const temperature =
    call.temperature === null || call.temperature === undefined
      ? undefined
      : Math.min(call.temperature, options.maxTemperature ?? Number.POSITIVE_INFINITY);
  const settings = {
    model,
    system: call.system,
    prompt: call.prompt,
    maxRetries: 0,
    abortSignal: call.signal,
    temperature,
    maxOutputTokens: call.maxOutputTokens ?? undefined,
    providerOptions: options.providerOptions,
  };
  if (call.schema !== undefined) {
    const result = await generateText({
      ...settings,
      output: Output.object({ schema: call.schema }),
    });
    return { text: result.text, object: result.output, usage: toUsage(result.totalUsage) };
  }
  const result: { text: string; totalUsage: LanguageModelUsage } = await generateText(settings);
  return { text: result.text, object: undefined, usage: toUsage(result.totalUsage) };
}

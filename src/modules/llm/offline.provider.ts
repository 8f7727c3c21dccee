import { z } from 'zod';
import { offlineAnswer } from './offline-answers';
import { LlmError, type LlmProvider, type ProviderCall, type ProviderResult } from './llm.types';

/** Rough token count the way most tokenizers average out for English: one token per 4 chars. */
export function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : Math.ceil(text.length / 4);
}

/** Waits `ms`, or rejects with LlmError('aborted') as soon as the signal aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const aborted = () => new LlmError('aborted', 'The call to the offline model was aborted.');
    if (signal.aborted) {
      reject(aborted());
      return;
    }
    if (ms <= 0) {
      resolve();
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(aborted());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * `offline`: a deterministic model with no network. It answers from the structured call context
 * (plan, step, safety, summary), so a fresh machine runs whole workflows without a key.
 * `latencyMs` simulates a model's thinking time (abortable), for demos and concurrency tests.
 */
export class OfflineProvider implements LlmProvider {
  readonly name = 'offline' as const;

  constructor(private readonly latencyMs: number) {}

  async generate<T>(request: ProviderCall<T>): Promise<ProviderResult<T>> {
    await pause(this.latencyMs, request.signal);
    const answer = offlineAnswer(request.context);
    const object =
      request.schema === undefined
        ? undefined
        : shapeAnswer(request.schema, request.context.purpose, answer);
    const input = estimateTokens(request.system) + estimateTokens(request.prompt);
    return {
      text: answer.text,
      object,
      usage: {
        inputTokens: Math.max(1, input),
        outputTokens: Math.max(1, estimateTokens(answer.text)),
      },
    };
  }
}

/** The answer as the requested schema's object: the structured value, else the text. */
function shapeAnswer<T>(
  schema: z.ZodType<T>,
  purpose: string,
  answer: { text: string; value: unknown },
): T {
  const text = answer.text;
  const candidates: unknown[] = [
    ...(answer.value === undefined ? [] : [answer.value]),
    text,
    { text, output: text, summary: text, content: text, markdown: text },
  ];
  let firstError: z.ZodError | undefined;
  for (const candidate of candidates) {
    const parsed = schema.safeParse(candidate);
    if (parsed.success) return parsed.data;
    firstError ??= parsed.error;
  }
  const why = firstError === undefined ? '' : `: ${z.prettifyError(firstError)}`;
  throw new LlmError(
    'malformed_response',
    `The offline model's ${purpose} answer does not match the requested shape${why}`,
  );
}

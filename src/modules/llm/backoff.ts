import { LlmError } from './llm.types';

/** The longest the orchestrator waits between two attempts of its own choosing. */
export const MAX_BACKOFF_MS = 30_000;

/**
 * How long to wait before attempt `attempt + 1`, after attempt `attempt` (1-based) failed with
 * `error`: the provider's Retry-After for a rate limit, else exponential backoff
 * (`baseMs * 2^(attempt-1)`, capped at 30 s) with "equal jitter" (half fixed, half random) so
 * that tasks failing together do not retry together.
 */
export function backoffDelayMs(
  attempt: number,
  error: unknown,
  baseMs: number,
  random: () => number = Math.random,
): number {
  if (
    error instanceof LlmError &&
    error.code === 'rate_limited' &&
    error.retryAfterMs !== undefined
  ) {
    return Math.max(0, Math.round(error.retryAfterMs));
  }
  const exponent = Math.min(Math.max(1, Math.floor(attempt)) - 1, 30);
  const ceiling = Math.min(MAX_BACKOFF_MS, Math.max(0, baseMs) * 2 ** exponent);
  const half = ceiling / 2;
  return Math.round(half + random() * half);
}

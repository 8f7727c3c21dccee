import {
  APICallError,
  EmptyResponseBodyError,
  InvalidResponseDataError,
  JSONParseError,
  LoadAPIKeyError,
  NoContentGeneratedError,
  NoObjectGeneratedError,
  NoOutputGeneratedError,
  RetryError,
  TypeValidationError,
} from 'ai';
import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import { LlmError, type LlmUsage } from './llm.types';
import { providerLabel, redact, type ProviderErrorContext } from './provider-context';
import { messageOf } from '../../common/error-message';

export { displayUrl, providerLabel, redact, type ProviderErrorContext } from './provider-context';

const MAX_DETAIL_CHARS = 300;
/** Upper bound for a provider's Retry-After, so that a bogus header cannot park a task for days. */
const MAX_RETRY_AFTER_MS = 10 * 60_000;

const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

const codeSchema = z.object({ code: z.string() });
const causeSchema = z.object({ cause: z.unknown() });
const issuesSchema = z.object({
  issues: z.array(
    z.object({
      path: z.array(z.union([z.string(), z.number(), z.symbol()])).default([]),
      message: z.string(),
    }),
  ),
});

function statusText(status: number): string {
  const phrase = STATUS_CODES[status];
  return phrase === undefined ? String(status) : `${status} ${phrase}`;
}

function shorten(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_DETAIL_CHARS ? `${oneLine.slice(0, MAX_DETAIL_CHARS)}…` : oneLine;
}

function looksLikeHtml(body: string | undefined, headers: Record<string, string> | undefined) {
  const contentType = headers?.['content-type'] ?? '';
  if (contentType.includes('text/html')) return true;
  return body !== undefined && /^\s*<(!doctype|html|head|body|\?xml)/i.test(body);
}

/**
 * How long the provider asked us to wait, in ms: `retry-after-ms` (OpenAI), else `Retry-After` as
 * seconds or as an HTTP date. Undefined when absent or unparsable.
 */
export function parseRetryAfterMs(
  headers: Record<string, string | undefined> | undefined,
  now: number = Date.now(),
): number | undefined {
  if (headers === undefined) return undefined;
  const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const clamp = (ms: number) => Math.min(MAX_RETRY_AFTER_MS, Math.max(0, Math.round(ms)));
  const ms = lower.get('retry-after-ms')?.trim();
  if (ms !== undefined && ms !== '' && Number.isFinite(Number(ms))) return clamp(Number(ms));
  const value = lower.get('retry-after')?.trim();
  if (value === undefined || value === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return clamp(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : clamp(date - now);
}

/** Walks `error.cause` looking for a network error code such as ECONNREFUSED. */
function networkErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current !== undefined && current !== null; depth += 1) {
    const coded = codeSchema.safeParse(current);
    if (coded.success && NETWORK_ERROR_CODES.has(coded.data.code)) return coded.data.code;
    const next = causeSchema.safeParse(current);
    current = next.success ? next.data.cause : undefined;
  }
  return undefined;
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error || error instanceof DOMException ? error.name : undefined;
}

function fromApiCallError(error: APICallError, context: ProviderErrorContext): LlmError {
  const label = providerLabel(context);
  const status = error.statusCode;
  const detail = shorten(redact(error.message, context.secrets));
  const make = (code: ConstructorParameters<typeof LlmError>[0], message: string, after?: number) =>
    new LlmError(code, redact(message, context.secrets), after, { cause: error });

  if (status === undefined) {
    const code = networkErrorCode(error);
    return make(
      'provider_unavailable',
      code === undefined
        ? `Could not reach the ${label}${withDetail(detail)}`
        : networkMessage(label, code),
    );
  }
  // The provider's own explanation, unless it only repeats the status line.
  const extra =
    detail.toLowerCase() === (STATUS_CODES[status] ?? '').toLowerCase() ? '' : withDetail(detail);
  const answered = `${label} answered ${statusText(status)}`;
  const html = looksLikeHtml(error.responseBody, error.responseHeaders);
  if (status >= 200 && status < 300) {
    const what = html ? 'an HTML page instead of JSON' : 'a body that is not the expected JSON';
    return make('malformed_response', `${label} answered with ${what}`);
  }
  if (status === 429) {
    const after = parseRetryAfterMs(error.responseHeaders);
    const wait = after === undefined ? '' : `, retry after ${Math.ceil(after / 1000)} s`;
    return make('rate_limited', `${answered} (rate limited${wait})${extra}`, after);
  }
  if (status === 401 || status === 403) {
    return make(
      'authentication_failed',
      `${answered}: the API key was rejected, check ${context.apiKeyVariable}${extra}`,
    );
  }
  if (status === 408) return make('timeout', `${answered}${extra}`);
  if (status >= 500) {
    return make('provider_unavailable', `${answered}${html ? ' (an HTML error page)' : extra}`);
  }
  if (status === 404) {
    return make('invalid_request', `${answered}: check the model name and the base URL${extra}`);
  }
  return make('invalid_request', `${answered}${html ? ' (an HTML error page)' : extra}`);
}

/** A network failure in words, with the system's code for searching. */
function networkMessage(label: string, code: string): string {
  switch (code) {
    case 'ECONNREFUSED':
      return `Could not reach the ${label}: connection refused (${code}); is the server running?`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `Could not reach the ${label}: its host name could not be resolved (${code}).`;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `Could not reach the ${label}: the connection timed out (${code}).`;
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return `The ${label} stopped answering in the middle of the response (${code}).`;
    default:
      return `The connection to the ${label} was closed before it answered (${code}).`;
  }
}

/** The schema problems of a structured answer, e.g. `steps: expected array, received number`. */
function describeInvalidObject(error: NoObjectGeneratedError): string {
  const cause = error.cause;
  if (JSONParseError.isInstance(cause)) return 'the answer is not valid JSON';
  if (TypeValidationError.isInstance(cause)) {
    const issues = issuesSchema.safeParse(cause.cause);
    if (issues.success && issues.data.issues.length > 0) {
      return issues.data.issues
        .slice(0, 5)
        .map((issue) => {
          const where = issue.path.map(String).join('.');
          return where === '' ? issue.message : `${where}: ${issue.message}`;
        })
        .join('; ');
    }
    return 'the JSON does not match the expected shape';
  }
  return shorten(error.message);
}

function withDetail(detail: string): string {
  return detail === '' ? '' : ` — ${detail}`;
}

/**
 * Maps whatever a provider call threw (AI SDK errors, fetch failures, aborts) to an LlmError with a
 * message an end user can act on. Messages never contain the API key.
 */
export function classifyError(error: unknown, context: ProviderErrorContext): LlmError {
  const label = providerLabel(context);
  const make = (code: ConstructorParameters<typeof LlmError>[0], message: string) =>
    new LlmError(code, redact(message, context.secrets), undefined, { cause: error });

  if (error instanceof LlmError) {
    return new LlmError(error.code, redact(error.message, context.secrets), error.retryAfterMs, {
      cause: error.cause,
    });
  }
  if (RetryError.isInstance(error)) return classifyError(error.lastError, context);

  const name = errorName(error);
  if (name === 'TimeoutError') return make('timeout', `The ${label} did not answer in time.`);
  if (name === 'AbortError' || name === 'ResponseAborted') {
    return make('aborted', `The call to the ${label} was aborted.`);
  }

  if (APICallError.isInstance(error)) return fromApiCallError(error, context);
  if (LoadAPIKeyError.isInstance(error)) {
    return make(
      'authentication_failed',
      `No API key for the ${label}: set ${context.apiKeyVariable}.`,
    );
  }
  if (NoObjectGeneratedError.isInstance(error)) {
    return make(
      'malformed_response',
      `The ${label} answered, but not with a JSON object of the expected shape: ${describeInvalidObject(error)}`,
    );
  }
  if (
    JSONParseError.isInstance(error) ||
    TypeValidationError.isInstance(error) ||
    InvalidResponseDataError.isInstance(error) ||
    EmptyResponseBodyError.isInstance(error) ||
    NoContentGeneratedError.isInstance(error) ||
    NoOutputGeneratedError.isInstance(error)
  ) {
    return make(
      'malformed_response',
      `The ${label} sent an answer that could not be read: ${shorten(messageOf(error))}`,
    );
  }

  const network = networkErrorCode(error);
  if (network !== undefined) return make('provider_unavailable', networkMessage(label, network));
  if (error instanceof TypeError && /fetch failed/i.test(error.message)) {
    return make('provider_unavailable', `Could not reach the ${label}.`);
  }
  return make(
    'provider_unavailable',
    `Unexpected failure calling the ${label}: ${shorten(messageOf(error))}`,
  );
}

/** Tokens a failed call still consumed (an answer that did not match the schema was generated). */
export function usageOf(error: unknown): LlmUsage {
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

import { APICallError, JSONParseError, LoadAPIKeyError } from 'ai';
import {
  classifyError,
  displayUrl,
  parseRetryAfterMs,
  redact,
  type ProviderErrorContext,
} from '../../src/modules/llm/classify-error';
import { LlmError } from '../../src/modules/llm/llm.types';

const KEY = 'sk-secret-key-0123456789';
const context: ProviderErrorContext = {
  provider: 'openai',
  baseUrl: 'https://user:pass@llm.example.com/v1/',
  secrets: [KEY],
  apiKeyVariable: 'OPENAI_API_KEY',
};

function apiError(
  statusCode: number | undefined,
  extra: Partial<{
    body: string;
    headers: Record<string, string>;
    message: string;
    cause: unknown;
  }> = {},
) {
  return new APICallError({
    message: extra.message ?? 'failed',
    url: 'https://llm.example.com/v1/chat/completions',
    requestBodyValues: {},
    statusCode,
    responseHeaders: extra.headers,
    responseBody: extra.body,
    cause: extra.cause,
  });
}

describe('parseRetryAfterMs', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  it.each([
    [{ 'retry-after': '2' }, 2000],
    [{ 'retry-after': '0.5' }, 500],
    [{ 'Retry-After': '3' }, 3000],
    [{ 'retry-after-ms': '1200', 'retry-after': '9' }, 1200],
    [{ 'retry-after': 'Wed, 01 Jan 2025 00:00:04 GMT' }, 4000],
    [{ 'retry-after': 'Tue, 31 Dec 2024 23:00:00 GMT' }, 0],
    [{ 'retry-after': '999999' }, 600_000],
    [{ 'retry-after': 'soon' }, undefined],
    [{}, undefined],
  ])('reads %j as %s ms', (headers, expected) => {
    expect(parseRetryAfterMs(headers, now)).toBe(expected);
  });
});

describe('redact and displayUrl', () => {
  it('removes the key and anything shaped like one', () => {
    expect(redact(`bad key ${KEY}!`, [KEY])).toBe('bad key [redacted]!');
    expect(redact('other sk-abcdefghijkl and Bearer abc.def', [])).toBe(
      'other sk-[redacted] and Bearer [redacted]',
    );
  });

  it('never shows credentials of a base URL', () => {
    expect(displayUrl('https://user:pass@llm.example.com/v1/?token=x')).toBe(
      'https://llm.example.com/v1',
    );
    expect(displayUrl('not a url')).toBe('(invalid URL)');
  });
});

describe('classifyError', () => {
  function classify(error: unknown): LlmError {
    const result = classifyError(error, context);
    expect(result.message).not.toContain(KEY);
    expect(result.message).not.toContain('pass@');
    return result;
  }

  it.each([
    [403, 'authentication_failed', false],
    [408, 'timeout', true],
    [409, 'invalid_request', false],
    [502, 'provider_unavailable', true],
    [200, 'malformed_response', true],
  ])('maps HTTP %s to %s', (status, code, retryable) => {
    const error = classify(apiError(status, { message: `echo ${KEY}` }));
    expect(error).toMatchObject({ code, retryable });
  });

  it('words a network failure by its code', () => {
    const refused = apiError(undefined, {
      message: 'Cannot connect to API: connect ECONNREFUSED',
      cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    });
    expect(classify(refused).message).toBe(
      'Could not reach the OpenAI-compatible server at https://llm.example.com/v1: connection refused (ECONNREFUSED); is the server running?',
    );
    const dns = new TypeError('fetch failed', {
      cause: Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }),
    });
    expect(classify(dns)).toMatchObject({ code: 'provider_unavailable' });
    expect(classify(dns).message).toMatch(/host name could not be resolved/);
    expect(classify(new TypeError('fetch failed')).code).toBe('provider_unavailable');
  });

  it('maps aborts and timeouts by name', () => {
    expect(classify(new DOMException('timed out', 'TimeoutError')).code).toBe('timeout');
    expect(classify(new DOMException('aborted', 'AbortError')).code).toBe('aborted');
  });

  it('maps unreadable answers to malformed_response', () => {
    expect(classify(new JSONParseError({ text: '<html>', cause: new Error('x') })).code).toBe(
      'malformed_response',
    );
  });

  it('names the variable when the key is missing', () => {
    const error = classify(new LoadAPIKeyError({ message: 'missing' }));
    expect(error.code).toBe('authentication_failed');
    expect(error.message).toMatch(/OPENAI_API_KEY/);
  });

  it('keeps an LlmError but redacts its message', () => {
    const error = classify(new LlmError('rate_limited', `slow ${KEY}`, 1000));
    expect(error).toMatchObject({ code: 'rate_limited', retryAfterMs: 1000 });
  });

  it('treats anything else as a transient provider failure', () => {
    expect(classify(new Error(`weird ${KEY}`)).code).toBe('provider_unavailable');
  });
});

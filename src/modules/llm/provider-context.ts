import { type ProviderName } from './llm.types';

// Kept apart from classify-error.ts, which needs the AI SDK: the LLM service words its messages
// with these without loading the SDK until a non-offline model is used.

/** Who answered (or failed to): used to word errors for the person reading them. */
export interface ProviderErrorContext {
  provider: ProviderName;
  /** Base URL of the API; credentials in it are never shown. */
  baseUrl: string;
  /** Secrets that must never appear in a message (the API key). */
  secrets: ReadonlyArray<string | undefined>;
  /** The environment variable holding the key, named in authentication errors. */
  apiKeyVariable: string;
}

/** A URL as it may be shown to a user: no user:password, no query string, no trailing slash. */
export function displayUrl(raw: string): string {
  try {
    const url = new URL(raw);
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    return url.toString().replace(/\/+$/, '');
  } catch {
    return '(invalid URL)';
  }
}

/** The provider's name as a user knows it, with where it was reached. */
export function providerLabel(context: Pick<ProviderErrorContext, 'provider' | 'baseUrl'>): string {
  const where = displayUrl(context.baseUrl);
  switch (context.provider) {
    case 'openai':
      return `OpenAI-compatible server at ${where}`;
    case 'anthropic':
      return `Anthropic API at ${where}`;
    case 'offline':
      return 'offline model';
  }
}

/** Removes every secret (and anything shaped like an API key) from a text shown to users. */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let result = text;
  for (const secret of secrets) {
    if (secret !== undefined && secret.length >= 4)
      result = result.split(secret).join('[redacted]');
  }
  return result
    .replace(/\b(sk|pk|rk)-[A-Za-z0-9_*-]{8,}/g, '$1-[redacted]')
    .replace(/(bearer\s+)[^\s"',]+/gi, '$1[redacted]');
}

import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { DomainError, ErrorCode } from '../domain-error';

/** Requests are counted per API key when one is presented, otherwise per client address. */
export function rateLimitKey(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = header === undefined ? null : /^Bearer\s+(\S+)/i.exec(header);
  if (match?.[1] !== undefined) {
    return `key:${createHash('sha256').update(match[1]).digest('hex').slice(0, 16)}`;
  }
  return `ip:${request.ip}`;
}

/**
 * RATE_LIMIT_PER_MINUTE requests per minute per key (0 turns it off); past it 429 problem+json
 * with Retry-After and the x-ratelimit-* headers. Health checks and metrics scrapes are never
 * limited.
 */
export async function registerRateLimit(
  fastify: FastifyInstance,
  perMinute: number,
): Promise<void> {
  if (perMinute <= 0) return;
  await fastify.register(rateLimit, {
    global: true,
    max: perMinute,
    timeWindow: 60_000,
    keyGenerator: rateLimitKey,
    allowList: (request) => request.url.startsWith('/health/') || request.url === '/metrics',
    errorResponseBuilder: (_request, context) =>
      new DomainError(
        ErrorCode.RATE_LIMITED,
        `Rate limit of ${context.max} requests per minute exceeded; retry in ${context.after}`,
        [],
        { 'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))) },
      ),
  });
}

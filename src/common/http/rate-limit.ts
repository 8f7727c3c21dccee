import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
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

/** Where the counters live when they are shared: a Redis connection and a key prefix. */
export interface SharedCounters {
  redis: Redis;
  keyPrefix: string;
}

/**
 * RATE_LIMIT_PER_MINUTE requests per minute per key (0 turns it off); past it 429 problem+json
 * with Retry-After and the x-ratelimit-* headers. Health checks and metrics scrapes are never
 * limited. With `shared` the counters are in Redis, one per key for every API process; while
 * Redis does not answer, requests are served without counting rather than refused.
 */
export async function registerRateLimit(
  fastify: FastifyInstance,
  perMinute: number,
  shared?: SharedCounters,
): Promise<void> {
  if (perMinute <= 0) return;
  if (shared !== undefined) {
    // Counters need no goodbye: closing the socket at once never waits on a stalled Redis.
    fastify.addHook('onClose', (_instance, done) => {
      shared.redis.disconnect();
      done();
    });
  }
  await fastify.register(rateLimit, {
    global: true,
    max: perMinute,
    timeWindow: 60_000,
    ...(shared === undefined
      ? {}
      : { redis: shared.redis, nameSpace: shared.keyPrefix, skipOnError: true }),
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

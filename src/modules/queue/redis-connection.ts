import type { RedisOptions } from 'ioredis';

/** Reconnects forever with a capped backoff (both producers and workers come back on their own). */
const retryStrategy = (times: number): number => Math.min(100 * 2 ** Math.min(times, 5), 2000);

function base(redisUrl: string): RedisOptions {
  const url = new URL(redisUrl);
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  return {
    host: url.hostname,
    port: url.port === '' ? 6379 : Number(url.port),
    ...(url.username !== '' ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password !== '' ? { password: decodeURIComponent(url.password) } : {}),
    ...(Number.isInteger(db) ? { db } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
    connectTimeout: 2000,
    retryStrategy,
  };
}

/**
 * Producers (the API adding jobs) fail fast while Redis is away: a command is not queued in
 * memory and a request never hangs; the job is dispatched later by the reconciler.
 */
export function producerConnection(redisUrl: string): RedisOptions {
  return { ...base(redisUrl), enableOfflineQueue: false, maxRetriesPerRequest: 1 };
}

/** Workers block on Redis and must wait for it as long as it takes (BullMQ requires this). */
export function workerConnection(redisUrl: string): RedisOptions {
  return { ...base(redisUrl), enableOfflineQueue: true, maxRetriesPerRequest: null };
}

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { startTestApp, type TestApp } from '../helpers/app';
import { testConfig } from '../helpers/config';
import { api } from '../helpers/http';
import {
  describeWithRedisServer,
  findRedisServer,
  startPrivateRedis,
  type PrivateRedis,
} from '../helpers/redis-server';

// Uses the machine's real Redis (127.0.0.1:6379); every run has its own key prefix.
const REDIS_URL = 'redis://127.0.0.1:6379';

describe('rate limit with Redis: one count per key for every API process', () => {
  const prefix = `broski-test-${randomUUID()}`;
  const apps: TestApp[] = [];
  const redis = new Redis(REDIS_URL);

  beforeAll(async () => {
    for (let i = 0; i < 2; i += 1) {
      apps.push(
        await startTestApp(
          testConfig({
            REDIS_URL,
            QUEUE_DRIVER: 'bullmq',
            QUEUE_PREFIX: prefix,
            RUN_WORKERS: 'false',
            RATE_LIMIT_PER_MINUTE: '5',
          }),
        ),
      );
    }
  });

  afterAll(async () => {
    for (const t of apps) await t.close();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('refuses the sixth request of a minute whichever process answers it', async () => {
    const statuses: number[] = [];
    const remaining: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      const t = apps[i % 2];
      if (t === undefined) throw new Error('the apps did not start');
      const response = await api(t.app).get('/api/v1/agents');
      statuses.push(response.status);
      remaining.push(String(response.headers['x-ratelimit-remaining']));
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(remaining).toEqual(['4', '3', '2', '1', '0', '0']);
    // Another client (here: another bearer token; no keys exist) has a count of its own.
    const other = apps[1];
    if (other === undefined) throw new Error('the apps did not start');
    const another = await api(other.app)
      .get('/api/v1/agents')
      .set('authorization', 'Bearer another-client')
      .expect(200);
    expect(another.headers['x-ratelimit-remaining']).toBe('4');
    // The counters are Redis keys under the deployment's prefix, expiring with the window.
    const keys = await redis.keys(`${prefix}:rate-limit:*`);
    expect(keys).toHaveLength(2);
    const ttl = await redis.pttl(keys[0] ?? '');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });
});

const REDIS_SERVER = findRedisServer();
const describeWithRedis = describeWithRedisServer(
  'the stalled-Redis test of test/integration/rate-limit-shared.spec.ts',
);

describeWithRedis('rate limit with a Redis that is connected but stalled', () => {
  let redis: PrivateRedis | undefined;
  let t: TestApp | undefined;

  beforeAll(async () => {
    if (REDIS_SERVER === undefined) throw new Error('redis-server is not installed');
    redis = await startPrivateRedis(REDIS_SERVER);
    t = await startTestApp(
      testConfig({
        REDIS_URL: redis.url,
        QUEUE_DRIVER: 'bullmq',
        RUN_WORKERS: 'false',
        RATE_LIMIT_PER_MINUTE: '5',
      }),
    );
  });

  afterAll(async () => {
    await t?.close();
    await redis?.dispose();
  });

  it('answers requests without their count while Redis does not reply', async () => {
    if (t === undefined || redis === undefined) throw new Error('the app did not start');
    await api(t.app).get('/api/v1/agents').expect(200);
    // Every client's commands wait for 4 s; the connection stays open.
    expect(await redis.command('CLIENT', 'PAUSE', '4000', 'ALL')).toBe('+OK');
    const started = Date.now();
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await api(t.app).get('/api/v1/agents')).status);
    expect(statuses).toEqual([200, 200, 200]);
    // Each waited at most the rate limit's Redis timeout (500 ms), not the pause.
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

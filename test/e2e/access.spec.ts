import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestApp, type TestApp } from '../helpers/app';
import { testConfig } from '../helpers/config';
import { api } from '../helpers/http';
import { startServer } from '../../src/app/serve';
import { helmetHeaders } from '../../src/app/http-app';
import { ConfigError } from '../../src/config/app-config';
import { isLoopbackHost } from '../../src/modules/access/access.hook';
import { ApiKeysService } from '../../src/modules/access/api-keys.service';

describe('API keys and the access rule', () => {
  let t: TestApp;
  let logFile: string;

  beforeAll(async () => {
    const config = testConfig({ LOG_LEVEL: 'debug' });
    logFile = path.join(config.dir, 'broski.log');
    t = await startTestApp({ ...config, log: { ...config.log, file: logFile } });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('serves /api/v1 without a key while no key exists (loopback)', async () => {
    await api(t.app).get('/api/v1/agents').expect(200);
  });

  it('requires a valid key once one exists; health and docs stay open; revoking takes effect', async () => {
    const keys = t.app.get(ApiKeysService);
    const { key, info } = keys.create('ci');
    expect(key).toMatch(/^bsk_/);
    expect(info.prefix).toBe(key.slice(0, info.prefix.length));

    const missing = await api(t.app).get('/api/v1/agents');
    expect(missing.status).toBe(401);
    expect(missing.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(missing.body.code).toBe('unauthorized');

    await api(t.app).get('/api/v1/agents').set('authorization', `Bearer ${key}x`).expect(401);
    // Percent-encoding reaches the same handlers, and is protected the same way.
    await api(t.app).get('/%61pi/v1/agents').expect(401);
    await api(t.app).post('/a%70i/v1/workflows').send({ request: 'sneaky' }).expect(401);
    await api(t.app).get('/api/v1/agents').set('authorization', 'Basic abc').expect(401);
    await api(t.app).get('/api/v1/agents').set('authorization', `Bearer ${key}`).expect(200);
    await api(t.app).get('/health/live').expect(200);
    await api(t.app).get('/health/ready').expect(200);
    await api(t.app).get('/docs/openapi.json').expect(200);

    const listed = keys.list().find((k) => k.id === info.id);
    expect(listed?.lastUsedAt).not.toBeNull();

    const second = keys.create('second');
    keys.revoke(info.id);
    await api(t.app).get('/api/v1/agents').set('authorization', `Bearer ${key}`).expect(401);
    await api(t.app).get('/api/v1/agents').set('authorization', `Bearer ${second.key}`).expect(200);
    expect(keys.list().find((k) => k.id === info.id)?.revokedAt).not.toBeNull();
    keys.revoke(second.info.id);

    // With every key revoked, a loopback server is open again (after the one-second cache).
    await sleep(1100);
    await api(t.app).get('/api/v1/agents').expect(200);
  });

  it('stores only a hash: the key is neither in the database nor in the logs', async () => {
    const keys = t.app.get(ApiKeysService);
    const { key, info } = keys.create('secret-check');
    await api(t.app).get('/api/v1/agents').set('authorization', `Bearer ${key}`).expect(200);
    await api(t.app)
      .get('/api/v1/agents')
      .set('authorization', `Bearer ${key}`)
      .set('x-api-key', key)
      .expect(200);
    const dbDir = path.dirname(t.config.database.path);
    for (const file of fs.readdirSync(dbDir).filter((f) => f.startsWith('broski.db'))) {
      expect(fs.readFileSync(path.join(dbDir, file)).includes(Buffer.from(key))).toBe(false);
    }
    await sleep(200);
    const logs = fs.readFileSync(logFile, 'utf8');
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.includes(key)).toBe(false);
    keys.revoke(info.id);
  });
});

describe('access on a non-loopback address', () => {
  it('recognises loopback addresses', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('127.8.9.1')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('::1')).toBe(true);
    expect(isLoopbackHost('0.0.0.0')).toBe(false);
    expect(isLoopbackHost('192.168.1.4')).toBe(false);
  });

  it('refuses RUN_WORKERS=false without Redis: nothing would run the workflows', async () => {
    const config = testConfig({ RUN_WORKERS: 'false', PORT: '0' });
    await expect(startServer(config)).rejects.toThrow(/RUN_WORKERS.*inline driver/);
    fs.rmSync(config.dir, { recursive: true, force: true });
  });

  it('refuses to start without a key, saying why', async () => {
    const config = testConfig({ HOST: '0.0.0.0', PORT: '0' });
    await expect(startServer(config)).rejects.toThrow(ConfigError);
    await expect(startServer(config)).rejects.toThrow(
      /HOST.*not a loopback address.*broski keys create/,
    );
    fs.rmSync(config.dir, { recursive: true, force: true });
  });

  it('answers 401 on /api/v1 when no key exists (even if the server was started some other way)', async () => {
    const t = await startTestApp(testConfig({ HOST: '0.0.0.0' }));
    try {
      const response = await api(t.app).get('/api/v1/agents');
      expect(response.status).toBe(401);
      expect(response.body.detail).toMatch(/No API key exists/);
      await api(t.app).get('/health/live').expect(200);
    } finally {
      await t.close();
    }
  });
});

describe('hardening', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp(
      testConfig({ RATE_LIMIT_PER_MINUTE: '5', CORS_ORIGINS: 'https://app.example.com' }),
    );
  });

  afterAll(async () => {
    await t?.close();
  });

  it('sends security headers and no x-powered-by', async () => {
    const response = await api(t.app).get('/api/v1/agents');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['x-frame-options']).toBeDefined();
    expect(response.headers['strict-transport-security']).toBeDefined();
    expect(response.headers['x-powered-by']).toBeUndefined();
  });

  it("sends every header helmet sets, on answers and on problems alike, Fastify's own included", async () => {
    const expected = helmetHeaders();
    expect(Object.keys(expected).length).toBeGreaterThanOrEqual(10);
    const responses = [
      await api(t.app).get('/api/v1/agents'),
      await api(t.app).get('/api/v1/workflows/not-a-uuid'),
      await api(t.app).get('/nowhere'),
      // Malformed percent-encoding: answered by Fastify before any hook runs.
      await api(t.app).get('/api/v1/workflows/%E0%A4%A'),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 400, 404, 400]);
    for (const response of responses) {
      for (const [name, value] of Object.entries(expected)) {
        expect([response.status, name, response.headers[name]]).toEqual([
          response.status,
          name,
          String(value),
        ]);
      }
    }
  });

  it('allows CORS only for the configured origins', async () => {
    const allowed = await api(t.app)
      .options('/api/v1/agents')
      .set('origin', 'https://app.example.com')
      .set('access-control-request-method', 'GET');
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example.com');
    const other = await api(t.app).get('/api/v1/agents').set('origin', 'https://evil.example');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers 429 problem+json with Retry-After past the rate limit; health is exempt', async () => {
    let limited: Awaited<ReturnType<ReturnType<typeof api>['get']>> | undefined;
    for (let i = 0; i < 10 && limited === undefined; i += 1) {
      const response = await api(t.app).get('/api/v1/agents').set('x-forwarded-for', '1.2.3.4');
      expect(response.headers['x-ratelimit-limit']).toBe('5');
      if (response.status === 429) limited = response;
    }
    expect(limited).toBeDefined();
    expect(limited?.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(Number(limited?.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited?.body.code).toBe('rate_limited');
    // Refused by a hook that runs after the one that sets the security headers: they are kept.
    expect(limited?.headers['x-content-type-options']).toBe('nosniff');
    for (let i = 0; i < 10; i += 1) await api(t.app).get('/health/live').expect(200);
  });
});

import type Database from 'better-sqlite3';
import type { Server } from 'node:http';
import request from 'supertest';
import { SQLITE } from '../../src/modules/database/database.tokens';
import { startTestApp, type TestApp } from '../helpers/app';
import { testConfig } from '../helpers/config';

interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
  components?: { schemas?: Record<string, unknown> };
}

describe('health and docs', () => {
  let testApp: TestApp;
  let server: Server;

  beforeAll(async () => {
    testApp = await startTestApp(testConfig());
    server = testApp.app.getHttpServer();
  });

  afterAll(async () => {
    await testApp?.close();
  });

  describe('health', () => {
    it('/health/live answers 200', async () => {
      const res = await request(server).get('/health/live').expect(200);
      expect(res.body).toEqual({ status: 'ok' });
      expect(res.headers['x-request-id']).toEqual(expect.any(String));
    });

    it('/health/ready answers 200 with the database up', async () => {
      const res = await request(server).get('/health/ready').expect(200);
      expect(res.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
    });

    it('health is not versioned and not under /api', async () => {
      await request(server).get('/api/v1/health/live').expect(404);
    });
  });

  describe('docs', () => {
    it('/docs serves the interactive HTML page', async () => {
      const res = await request(server).get('/docs').redirects(2).expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toMatch(/<html/i);
      expect(res.text).toMatch(/swagger/i);
      expect(res.text).toContain('Broski API');
    });

    it('/docs/openapi.json is an OpenAPI 3 document listing the agents operations', async () => {
      const res = await request(server).get('/docs/openapi.json').expect(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const doc = res.body as OpenApiDocument;
      expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
      expect(doc.info.title).toBe('Broski API');
      expect(doc.info.version).toEqual(expect.any(String));

      const list = doc.paths['/api/v1/agents'];
      const one = doc.paths['/api/v1/agents/{type}'];
      expect(list).toBeDefined();
      expect(one).toBeDefined();
      expect(Object.keys(list ?? {})).toEqual(expect.arrayContaining(['get', 'post']));
      expect(Object.keys(one ?? {})).toEqual(expect.arrayContaining(['get', 'patch', 'delete']));

      // The documented answers match what the API does, errors included.
      expect(Object.keys(list?.post?.responses ?? {})).toEqual(
        expect.arrayContaining(['201', '400', '409']),
      );
      expect(Object.keys(one?.get?.responses ?? {})).toEqual(
        expect.arrayContaining(['200', '404']),
      );
      expect(JSON.stringify(doc)).toContain('application/problem+json');

      // Health is operational, not part of the API contract.
      expect(Object.keys(doc.paths).some((p) => p.startsWith('/health'))).toBe(false);
    });

    it('the document describes the agent schema from the same contract (all fields)', async () => {
      const res = await request(server).get('/docs/openapi.json').expect(200);
      const text = JSON.stringify(res.body);
      for (const field of ['systemPrompt', 'maxOutputTokens', 'nextCursor', 'temperature']) {
        expect(text).toContain(`"${field}"`);
      }
    });
  });

  describe('readiness with the database gone', () => {
    it('answers 503 (and liveness stays 200)', async () => {
      const own = await startTestApp(testConfig());
      try {
        own.app.get<Database.Database>(SQLITE).close();
        const ready = await request(own.app.getHttpServer()).get('/health/ready');
        expect(ready.status).toBe(503);
        expect(JSON.stringify(ready.body)).toContain('database');
        await request(own.app.getHttpServer()).get('/health/live').expect(200);
      } finally {
        await own.close();
      }
    });
  });
});

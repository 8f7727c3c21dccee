import Fastify from 'fastify';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { registerRequestLogging } from '../../src/common/logging/request-logging';
import { listen, startTestApp, type TestApp } from '../helpers/app';
import { testConfig } from '../helpers/config';
import { api, submit, waitForStatus } from '../helpers/http';
import { readSse } from '../helpers/sse';

interface LogLine {
  level: string | number;
  msg: string;
  reqId?: string;
  workflowId?: string;
  context?: string;
  req?: { method?: string; url?: string; headers?: unknown };
  res?: { statusCode?: number };
  responseTime?: number;
}

function parseLines(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as LogLine);
}

describe('request logging', () => {
  let t: TestApp;
  let logFile: string;
  let listening: string | undefined;
  const baseUrl = async () => (listening ??= await listen(t.app));

  beforeAll(async () => {
    const config = testConfig({ LOG_LEVEL: 'info' });
    logFile = path.join(config.dir, 'broski.log');
    t = await startTestApp({ ...config, log: { ...config.log, file: logFile } });
  });

  afterAll(async () => {
    await t?.close();
  });

  /** The log file's lines, once the line we wait for has been written (pino writes async). */
  async function linesUntil(found: (l: LogLine) => boolean): Promise<LogLine[]> {
    for (let i = 0; i < 100; i += 1) {
      const lines = fs.existsSync(logFile) ? parseLines(fs.readFileSync(logFile, 'utf8')) : [];
      if (lines.some(found)) return lines;
      await sleep(20);
    }
    throw new Error('log line not written');
  }

  it('writes one "request completed" line per request with its id, route, status and time', async () => {
    await api(t.app)
      .get('/api/v1/agents/researcher')
      .set('x-request-id', 'log-get-1')
      .set('authorization', 'Bearer not-a-real-key')
      .expect(200);
    await api(t.app).get('/api/v1/agents/ghost').set('x-request-id', 'log-404-1').expect(404);

    const lines = await linesUntil((l) => l.reqId === 'log-404-1' && l.msg === 'request completed');
    const ok = lines.filter((l) => l.reqId === 'log-get-1' && l.msg === 'request completed');
    expect(ok).toHaveLength(1);
    expect(ok[0]).toMatchObject({
      level: 'info',
      req: { method: 'GET', url: '/api/v1/agents/researcher' },
      res: { statusCode: 200 },
    });
    expect(typeof ok[0]?.responseTime).toBe('number');
    expect(ok[0]?.req?.headers).toBeUndefined();
    const missing = lines.find((l) => l.reqId === 'log-404-1' && l.msg === 'request completed');
    // A client's mistake is part of normal operation: info, not error.
    expect(missing).toMatchObject({ level: 'info', res: { statusCode: 404 } });
    expect(fs.readFileSync(logFile, 'utf8')).not.toContain('not-a-real-key');
  });

  it('puts the request id on the lines its handler writes, also when the body arrives later', async () => {
    // The body reaches the server in two packets 50 ms apart: the handler then runs from the
    // socket's read, outside the context the request started in.
    const base = await baseUrl();
    const body = JSON.stringify({ request: 'Write a haiku about logs' });
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(`${base}/api/v1/workflows?wait=5`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'x-request-id': 'log-post-1',
        },
      });
      req.on('error', reject);
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.flushHeaders();
      req.write(body.slice(0, 10));
      setTimeout(() => req.end(body.slice(10)), 50);
    });
    expect(answer.status).toBe(200);
    const workflowId = (JSON.parse(answer.text) as { id: string }).id;

    const lines = await linesUntil(
      (l) => l.reqId === 'log-post-1' && l.msg === 'request completed',
    );
    const submitted = lines.find((l) => l.msg === 'workflow submitted' && l.reqId === 'log-post-1');
    expect(submitted).toMatchObject({ context: 'OrchestratorService', workflowId });
  });

  it('puts the request id on the line a cancel writes', async () => {
    const waiting = await submit(t.app, {
      request: 'Write a haiku about barley',
      requireApproval: true,
    });
    await waitForStatus(t.app, waiting.id, ['awaiting_approval']);
    const cancelled = await api(t.app)
      .post(`/api/v1/workflows/${waiting.id}/cancel`)
      .set('x-request-id', 'log-cancel-1');
    expect(cancelled.status).toBe(200);

    const lines = await linesUntil(
      (l) => l.reqId === 'log-cancel-1' && l.msg === 'request completed',
    );
    expect(lines.find((l) => l.msg === 'workflow cancelled')).toMatchObject({
      reqId: 'log-cancel-1',
      workflowId: waiting.id,
    });
    // The submit's own line has the submit's request id, not the cancel's.
    const submitted = lines.find(
      (l) => l.msg === 'workflow submitted' && l.workflowId === waiting.id,
    );
    expect(submitted?.reqId).toEqual(expect.any(String));
    expect(submitted?.reqId).not.toBe('log-cancel-1');
  });

  it('ends a finished event stream with "request completed" and a dropped one with "request aborted"', async () => {
    const base = await baseUrl();
    const done = await submit(t.app, { request: 'Write a limerick about flour' });
    await waitForStatus(t.app, done.id, ['completed']);
    await readSse(`${base}/api/v1/workflows/${done.id}/events`, { 'x-request-id': 'log-sse-done' });

    // Waiting for approval: its stream stays open until the client goes away.
    const waiting = await submit(t.app, {
      request: 'Write a haiku about rye',
      requireApproval: true,
    });
    await waitForStatus(t.app, waiting.id, ['awaiting_approval']);
    await new Promise<void>((resolve, reject) => {
      const req = http.get(
        `${base}/api/v1/workflows/${waiting.id}/events`,
        { headers: { accept: 'text/event-stream', 'x-request-id': 'log-sse-left' } },
        (res) => res.once('data', () => req.destroy()),
      );
      req.on('close', () => resolve());
      req.on('error', (error) => (req.destroyed ? resolve() : reject(error)));
    });

    const lines = await linesUntil(
      (l) => l.reqId === 'log-sse-left' && l.msg === 'request aborted',
    );
    expect(lines.find((l) => l.reqId === 'log-sse-done')?.msg).toBe('request completed');
    expect(lines.filter((l) => l.reqId === 'log-sse-left').map((l) => l.msg)).toEqual([
      'request aborted',
    ]);
  });

  it('does not log health probes', async () => {
    await api(t.app).get('/health/ready').set('x-request-id', 'log-health-1').expect(200);
    await api(t.app).get('/api/v1/agents').set('x-request-id', 'log-after-health').expect(200);
    const lines = await linesUntil((l) => l.reqId === 'log-after-health');
    expect(lines.some((l) => l.reqId === 'log-health-1')).toBe(false);
  });
});

describe('registerRequestLogging on a bare Fastify instance', () => {
  it('logs a 5xx answer at level error', async () => {
    const written: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written.push(chunk.toString('utf8'));
        callback();
      },
    });
    const root = pino({ formatters: { level: (label) => ({ level: label }) } }, sink);
    const fastify = Fastify();
    registerRequestLogging(fastify, root);
    fastify.get('/boom', () => {
      throw new Error('boom');
    });
    fastify.get('/fine', () => ({ ok: true }));
    try {
      expect((await fastify.inject({ method: 'GET', url: '/boom' })).statusCode).toBe(500);
      expect((await fastify.inject({ method: 'GET', url: '/fine' })).statusCode).toBe(200);
    } finally {
      await fastify.close();
    }
    const lines = parseLines(written.join('')).filter((l) => l.msg === 'request completed');
    expect(lines.map((l) => [l.req?.url, l.res?.statusCode, l.level])).toEqual([
      ['/boom', 500, 'error'],
      ['/fine', 200, 'info'],
    ]);
  });
});

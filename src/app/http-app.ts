import { VersioningType } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { IncomingMessage, ServerResponse, type OutgoingHttpHeaders } from 'node:http';
import { Socket } from 'node:net';
import { once } from 'node:events';
import { Logger } from 'nestjs-pino';
import type pino from 'pino';
import { cleanupOpenApiDoc } from 'nestjs-zod';
import type { AppConfig } from '../config/app-config';
import helmet from 'helmet';
import { registerAccessControl } from '../modules/access/access.hook';
import { ApiKeysService } from '../modules/access/api-keys.service';
import { registerRateLimit, type SharedCounters } from '../common/http/rate-limit';
import { requestIdFor } from '../common/http/request-id';
import { withDeadline } from '../common/deadline';
import { producerConnection } from '../modules/queue/redis-connection';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { sendProblem } from '../common/http/problem.filter';
import { ROOT_LOGGER } from '../common/logging/logging.module';
import { registerRequestLogging } from '../common/logging/request-logging';
import { registerHttpMetrics } from '../modules/metrics/http-metrics';
import { MetricsService } from '../modules/metrics/metrics.service';
import { unhandledCounts } from './process-guards';
import { ApiModule } from './api.module';

export const API_VERSION = '0.1.0';

/**
 * A rate-limit count that Redis has not answered within this time is skipped: a Redis that is
 * connected but stalled (paused, failing over, a partition without a reset) must not hold
 * requests.
 */
const RATE_LIMIT_REDIS_TIMEOUT_MS = 500;

/**
 * With Redis configured (the BullMQ driver), the rate limit's counters live there, shared by
 * every API process; the connection closes with the app. Start-up waits for the connection
 * (up to its connect timeout, not at all when Redis refuses it), so that the first requests are
 * counted too.
 */
async function sharedCounters(
  config: AppConfig,
  logger: pino.Logger,
): Promise<SharedCounters | undefined> {
  const redisUrl = config.queue.redisUrl;
  if (config.http.rateLimitPerMinute <= 0 || config.queue.driver !== 'bullmq' || !redisUrl) {
    return undefined;
  }
  // Loaded only with the BullMQ driver, like the queue packages.
  const { Redis } = await import('ioredis');
  const options = producerConnection(redisUrl);
  const redis = new Redis({ ...options, commandTimeout: RATE_LIMIT_REDIS_TIMEOUT_MS });
  // One line when Redis goes away and one when it is back, not one per reconnection attempt.
  let away = false;
  redis.on('error', (error) => {
    if (away) return;
    away = true;
    logger.warn({ err: error }, 'rate limit: Redis does not answer; requests are not counted');
  });
  redis.on('ready', () => {
    if (!away) return;
    away = false;
    logger.info('rate limit: Redis answers again; requests are counted');
  });
  // `once` rejects on the first 'error' (Redis refused): start-up goes on at once then too.
  await withDeadline(
    once(redis, 'ready'),
    options.connectTimeout ?? RATE_LIMIT_REDIS_TIMEOUT_MS,
    () => new Error('Redis did not connect in time'),
  ).catch(() => undefined);
  return { redis, keyPrefix: `${config.queue.prefix}:rate-limit:` };
}

/**
 * Builds the API application (not yet listening): Fastify adapter, request ids, problem+json
 * for every error including Fastify's own, versioned routes and the OpenAPI document.
 */
export async function createHttpApp(config: AppConfig): Promise<NestFastifyApplication> {
  // Fastify's own errors (before any hook runs) are logged by the app's root logger, once it exists.
  const logs: { root?: pino.Logger } = {};
  const securityHeaders = helmetHeaders();
  const adapter = new FastifyAdapter({
    bodyLimit: config.http.bodyLimitBytes,
    genReqId: requestIdFor,
    trustProxy: false,
    return503OnClosing: true,
    // Errors Fastify answers before any route runs (malformed percent-encoding, over-long path
    // parameters) are problem+json too.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      void reply.header('x-request-id', request.id);
      void reply.headers(securityHeaders);
      sendProblem(request, reply, error, logs.root ?? request.log);
    },
    requestTimeout: config.http.requestTimeoutMs,
  });
  const app = await NestFactory.create<NestFastifyApplication>(ApiModule.forRoot(config), adapter, {
    bufferLogs: true,
    abortOnError: false,
    // Fastify's own JSON parser only: no form or text bodies (they answer 415).
    bodyParser: false,
  });
  app.useLogger(app.get(Logger));
  app.flushLogs();
  const root = app.get<pino.Logger>(ROOT_LOGGER);
  logs.root = root;

  const fastify = app.getHttpAdapter().getInstance();
  registerRequestLogging(fastify, root);
  const metrics = app.get(MetricsService);
  metrics.readUnhandledErrorsFrom(() => unhandledCounts);
  registerHttpMetrics(fastify, metrics);
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    void reply.headers(securityHeaders);
    done();
  });
  if (config.http.corsOrigins.length > 0) {
    app.enableCors({
      origin: config.http.corsOrigins.includes('*') ? true : config.http.corsOrigins,
      exposedHeaders: ['x-request-id', 'location', 'retry-after'],
    });
  }
  const keys = app.get(ApiKeysService);
  registerAccessControl(fastify, keys, config.http.host);
  await registerRateLimit(
    fastify,
    config.http.rateLimitPerMinute,
    await sharedCounters(config, root),
  );

  // Only JSON bodies are accepted: anything else answers 415.
  fastify.removeContentTypeParser(['text/plain']);
  // Versioned routes live under /api/v<N>; health, metrics and docs are version-neutral.
  app.enableVersioning({ type: VersioningType.URI, prefix: 'api/v' });

  if (config.queue.driver === 'bullmq') {
    // Loaded only with the BullMQ driver (Bull Board and its Fastify plugins are large).
    const { mountQueueDashboard } = await import('../modules/queue/queue-dashboard');
    await mountQueueDashboard(fastify, app);
  }

  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs/openapi.json',
    yamlDocumentUrl: 'docs/openapi.yaml',
    customSiteTitle: 'Broski API',
  });
  return app;
}

/**
 * The security headers helmet sets; the API serves JSON only, and /docs needs its inline
 * scripts, so no CSP. With these options helmet sets the same headers on every response, so they
 * are worked out once, on a response that is never sent, and each response gets them from
 * Fastify in one go: running helmet's dozen middlewares on every response cost the API 11–39 µs
 * of CPU per GET of a workflow at 50 connections in paired runs (bench/RESULTS.md, eleventh
 * round).
 */
export function helmetHeaders(): OutgoingHttpHeaders {
  const request = new IncomingMessage(new Socket());
  const response = new ServerResponse(request);
  let finished = false;
  helmet({ contentSecurityPolicy: false, crossOriginEmbedderPolicy: false })(
    request,
    response,
    () => {
      finished = true;
    },
  );
  if (!finished) throw new Error('helmet did not set its headers synchronously');
  return response.getHeaders();
}

export function buildOpenApiDocument(app: NestFastifyApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Broski API')
    .setDescription(
      'Submit requests that the orchestrator plans into steps for specialist agents, follow them live and read back every step, event and model call. Errors are RFC 9457 problem+json.',
    )
    .setVersion(API_VERSION)
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      description: 'An API key made with `broski keys create`',
    })
    .build();
  return cleanupOpenApiDoc(SwaggerModule.createDocument(app, config));
}

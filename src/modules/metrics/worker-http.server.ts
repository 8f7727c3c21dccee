import {
  Inject,
  Injectable,
  MethodNotAllowedException,
  type OnModuleInit,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { PinoLogger } from 'nestjs-pino';
import { DomainError } from '../../common/domain-error';
import { messageOf } from '../../common/error-message';
import { PROBLEM_CONTENT_TYPE, toProblem } from '../../common/http/problem';
import { requestIdFor } from '../../common/http/request-id';
import { APP_CONFIG, ConfigError, type AppConfig } from '../../config/app-config';
import { Readiness } from '../health/readiness.service';
import { MetricsService } from './metrics.service';

/**
 * A worker process has no API; with WORKER_METRICS_PORT it answers three GETs on HOST:port for
 * its operators: `/metrics` (its Prometheus registry: jobs it handled, process defaults, and the
 * same database and queue families as the API's), `/health/live` and `/health/ready` (database,
 * Redis, not draining), with the API's status codes. Anything else is a 404 or 405 problem.
 */
@Injectable()
export class WorkerHttpServer implements OnModuleInit, OnApplicationShutdown {
  private server: Server | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
    private readonly readiness: Readiness,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(WorkerHttpServer.name);
  }

  /** Listens before the processors start taking jobs: a port in use stops the start-up first. */
  async onModuleInit(): Promise<void> {
    const { host } = this.config.http;
    const port = this.config.queue.workerMetricsPort;
    const server = createServer((request, response) => void this.answer(request, response));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) =>
        reject(
          new ConfigError([
            {
              variable: 'WORKER_METRICS_PORT',
              message: `cannot listen on ${host}:${port}: ${messageOf(error)}`,
            },
          ]),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    server.on('error', (error) => this.logger.warn({ err: error }, 'metrics server error'));
    this.server = server;
    this.logger.info({ host, port }, 'serving /metrics and /health on the worker');
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = requestIdFor(request);
    response.setHeader('x-request-id', requestId);
    response.setHeader('cache-control', 'no-store');
    const path = (request.url ?? '/').split('?')[0];
    try {
      if (path !== '/metrics' && path !== '/health/live' && path !== '/health/ready') {
        throw DomainError.notFound('Route', path ?? '/');
      }
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.setHeader('allow', 'GET, HEAD');
        throw new MethodNotAllowedException(`${path} answers GET only`);
      }
      if (path === '/metrics') {
        const text = await this.metrics.scrape();
        response.writeHead(200, { 'content-type': this.metrics.contentType }).end(text);
      } else if (path === '/health/live') {
        this.json(response, 200, { status: 'ok' });
      } else {
        const answer = await this.readiness.check();
        this.json(response, answer.status, answer.body);
      }
    } catch (error) {
      const problem = toProblem(error, { requestId, instance: path });
      if (problem.internal) {
        this.logger.error({ err: error, reqId: requestId, path }, 'worker metrics request failed');
      }
      for (const [name, value] of Object.entries(problem.headers)) response.setHeader(name, value);
      this.problem(response, problem.status, problem.body);
    }
  }

  private json(response: ServerResponse, status: number, body: unknown): void {
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  private problem(response: ServerResponse, status: number, body: object): void {
    // A failure after the head went out (the client left mid-answer): nothing more to say.
    if (response.headersSent) {
      response.destroy();
      return;
    }
    response.writeHead(status, { 'content-type': PROBLEM_CONTENT_TYPE }).end(JSON.stringify(body));
  }
}

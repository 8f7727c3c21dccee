import type { FastifyInstance } from 'fastify';
import type { MetricsService } from './metrics.service';

/** The `route` label of requests that matched no route (never the raw path: unbounded). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Times every HTTP request into `http_request_duration_seconds{method,route,status_code}`.
 * `route` is the route TEMPLATE Fastify matched (`/api/v1/workflows/:id`), so ids never become
 * label values; requests that matched no route (404s) are `route="unmatched"`.
 * Call once on the root Fastify instance, before the application is ready. A callback hook: an
 * `async` one would cost a promise per request for synchronous work.
 */
export function registerHttpMetrics(fastify: FastifyInstance, metrics: MetricsService): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    const template = request.is404 ? undefined : request.routeOptions.url;
    metrics.observeHttpRequest(
      request.method,
      template === undefined || template === '' ? UNMATCHED_ROUTE : template,
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });
}

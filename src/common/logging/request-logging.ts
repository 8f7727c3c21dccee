import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pino from 'pino';

/** Requests whose lines would flood the log (load balancers probe them every few seconds). */
function isQuiet(request: FastifyRequest): boolean {
  return request.url.startsWith('/health');
}

/**
 * One JSON line per HTTP request ("request completed": reqId, method, url, status, time in ms;
 * level error for 5xx; "request aborted" when the client left before the response finished).
 *
 * Plain Fastify hooks instead of pino-http under Nest's middleware layer, and the request line is
 * written without redaction, since it holds only the fields above (never headers or bodies);
 * redacting it cost more than writing it. The request's other lines get its id from the handler,
 * which passes it to the service that logs (`@RequestId()`); no async context carries it.
 */
export function registerRequestLogging(fastify: FastifyInstance, root: pino.Logger): void {
  const requestLines = root.child({}, { redact: { paths: [] } });
  fastify.addHook('onRequest', (request, reply, done) => {
    // A response that never finished (the client went away, e.g. from a live event stream) ends
    // with a "request aborted" line instead.
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished && !isQuiet(request)) {
        requestLines.info(lineOf(request, reply), 'request aborted');
      }
    });
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    if (!isQuiet(request)) {
      const line = lineOf(request, reply);
      if (reply.statusCode >= 500) requestLines.error(line, 'request completed');
      else requestLines.info(line, 'request completed');
    }
    done();
  });
}

function lineOf(request: FastifyRequest, reply: FastifyReply) {
  return {
    reqId: request.id,
    req: { method: request.method, url: request.url },
    res: { statusCode: reply.statusCode },
    responseTime: Math.round(reply.elapsedTime * 100) / 100,
  };
}

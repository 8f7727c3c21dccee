import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

/**
 * The request's id (`x-request-id`, or the one the API made), for handlers to hand on to the
 * services whose log lines belong to the request. The id travels as an argument, not through an
 * async context: on Node 20 an `AsyncLocalStorage` in the request path puts a hook on every
 * promise in the process, about a tenth of the CPU time of a read (`npm run bench`).
 */
export const RequestId = createParamDecorator(
  (_data: unknown, context: ExecutionContext): string =>
    context.switchToHttp().getRequest<FastifyRequest>().id,
);

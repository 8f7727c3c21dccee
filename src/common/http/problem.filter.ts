import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { PROBLEM_CONTENT_TYPE, toProblem } from './problem';

/** The global error envelope: everything that leaves a controller as an error is problem+json. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(private readonly logger: PinoLogger) {
    this.logger.setContext(ProblemFilter.name);
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    sendProblem(request, reply, exception, this.logger);
  }
}

interface ErrorLogger {
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  exception: unknown,
  logger: ErrorLogger,
): void {
  const response = toProblem(exception, { requestId: request.id, instance: request.url });
  if (response.internal) {
    logger.error({ err: exception, reqId: request.id }, 'request failed with an internal error');
  } else {
    logger.debug(
      { reqId: request.id, status: response.status, code: response.body.code },
      response.body.detail,
    );
  }
  if (reply.sent) return;
  void reply
    .status(response.status)
    .headers(response.headers)
    .header('content-type', PROBLEM_CONTENT_TYPE)
    .send(response.body);
}

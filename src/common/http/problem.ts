import { HttpException } from '@nestjs/common';
import { z, ZodError } from 'zod';
import { DomainError, ErrorCode, type FieldError } from '../domain-error';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** RFC 9457 problem details, as every error of the API is answered. */
export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: z.string(),
  instance: z.string().optional(),
  requestId: z.string().optional(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

export type Problem = z.infer<typeof problemSchema>;

export interface ProblemResponse {
  status: number;
  body: Problem;
  headers: Record<string, string>;
  /** True when the error is the server's fault (logged at error level, details hidden). */
  internal: boolean;
}

const fastifyErrorShape = z.object({
  statusCode: z.number().int().min(400).max(599),
  code: z.string().optional(),
  message: z.string(),
});

const STATUS_TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  406: 'Not acceptable',
  408: 'Request timeout',
  409: 'Conflict',
  413: 'Content too large',
  414: 'URI too long',
  415: 'Unsupported media type',
  422: 'Unprocessable content',
  429: 'Too many requests',
  503: 'Service unavailable',
};

const CODE_BY_STATUS: Record<number, string> = {
  400: ErrorCode.VALIDATION,
  401: ErrorCode.UNAUTHORIZED,
  404: ErrorCode.NOT_FOUND,
  409: ErrorCode.CONFLICT,
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  429: ErrorCode.RATE_LIMITED,
  503: ErrorCode.UNAVAILABLE,
};

export function zodIssuesToFieldErrors(error: ZodError): FieldError[] {
  const pathOf = (segments: readonly PropertyKey[]) =>
    segments.length > 0 ? segments.map(String).join('.') : '(root)';
  // An unknown field is reported by Zod once, on the parent object: name each field instead.
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          path: pathOf([...issue.path, key]),
          message: 'is not a known field',
        }))
      : [{ path: pathOf(issue.path), message: issue.message }],
  );
}

function problem(
  status: number,
  code: string,
  detail: string,
  extra: { title?: string; errors?: FieldError[]; requestId?: string; instance?: string },
): Problem {
  const body: Problem = {
    type: `urn:broski:problem:${code}`,
    title: extra.title ?? STATUS_TITLES[status] ?? 'Error',
    status,
    detail,
    code,
  };
  if (extra.instance !== undefined) body.instance = extra.instance;
  if (extra.requestId !== undefined) body.requestId = extra.requestId;
  if (extra.errors !== undefined && extra.errors.length > 0) body.errors = extra.errors;
  return body;
}

/**
 * The one mapping from anything thrown to a problem response: domain errors, Zod failures,
 * Nest HTTP exceptions and Fastify's own errors (bad JSON, body too large, media type).
 */
export function toProblem(
  error: unknown,
  context: { requestId?: string; instance?: string },
): ProblemResponse {
  const { requestId, instance } = context;
  if (error instanceof DomainError) {
    return {
      status: error.status,
      body: problem(error.status, error.code, error.message, {
        title: error.title,
        errors: error.errors,
        requestId,
        instance,
      }),
      headers: error.headers,
      internal: error.status >= 500 && error.code === ErrorCode.INTERNAL,
    };
  }
  if (error instanceof ZodError) {
    const errors = zodIssuesToFieldErrors(error);
    return {
      status: 400,
      body: problem(400, ErrorCode.VALIDATION, describeFieldErrors(errors), {
        title: 'Validation failed',
        errors,
        requestId,
        instance,
      }),
      headers: {},
      internal: false,
    };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    if (status < 500) {
      return {
        status,
        body: problem(status, CODE_BY_STATUS[status] ?? `http_${status}`, error.message, {
          requestId,
          instance,
        }),
        headers: {},
        internal: false,
      };
    }
  }
  const fastifyError = fastifyErrorShape.safeParse(error);
  if (fastifyError.success && fastifyError.data.statusCode < 500) {
    const { statusCode, message } = fastifyError.data;
    return {
      status: statusCode,
      body: problem(statusCode, CODE_BY_STATUS[statusCode] ?? `http_${statusCode}`, message, {
        requestId,
        instance,
      }),
      headers: {},
      internal: false,
    };
  }
  const status =
    error instanceof HttpException
      ? error.getStatus()
      : fastifyError.success
        ? fastifyError.data.statusCode
        : 500;
  return {
    status,
    body: problem(
      status,
      status === 503 ? ErrorCode.UNAVAILABLE : ErrorCode.INTERNAL,
      status === 503
        ? 'The service is temporarily unavailable; try again shortly.'
        : `An unexpected error occurred. Quote request id ${requestId ?? '(none)'} when reporting it.`,
      { requestId, instance },
    ),
    headers: {},
    internal: true,
  };
}

export function describeFieldErrors(errors: FieldError[]): string {
  if (errors.length === 0) return 'The request is not valid';
  return `The request is not valid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`;
}

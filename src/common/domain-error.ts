/** Machine-readable error codes shared by the API (problem `code`), the CLI and stored errors. */
export const ErrorCode = {
  VALIDATION: 'validation_failed',
  NOT_FOUND: 'not_found',
  CONFLICT: 'conflict',
  INVALID_TRANSITION: 'invalid_transition',
  IDEMPOTENCY_MISMATCH: 'idempotency_key_reused',
  UNAUTHORIZED: 'unauthorized',
  RATE_LIMITED: 'rate_limited',
  UNAVAILABLE: 'service_unavailable',
  INTERNAL: 'internal_error',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const STATUS_BY_CODE: Record<ErrorCode, number> = {
  validation_failed: 400,
  not_found: 404,
  conflict: 409,
  invalid_transition: 409,
  idempotency_key_reused: 422,
  unauthorized: 401,
  rate_limited: 429,
  service_unavailable: 503,
  internal_error: 500,
};

const TITLE_BY_CODE: Record<ErrorCode, string> = {
  validation_failed: 'Validation failed',
  not_found: 'Not found',
  conflict: 'Conflict',
  invalid_transition: 'Action not allowed in the current status',
  idempotency_key_reused: 'Idempotency key reused with a different request',
  unauthorized: 'Unauthorized',
  rate_limited: 'Too many requests',
  service_unavailable: 'Service unavailable',
  internal_error: 'Internal server error',
};

export interface FieldError {
  path: string;
  message: string;
}

/** An error the domain raises on purpose; the HTTP layer maps it to problem+json by its code. */
export class DomainError extends Error {
  readonly status: number;
  readonly title: string;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly errors: FieldError[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'DomainError';
    this.status = STATUS_BY_CODE[code];
    this.title = TITLE_BY_CODE[code];
  }

  static notFound(what: string, id: string): DomainError {
    return new DomainError(ErrorCode.NOT_FOUND, `${what} '${id}' was not found`);
  }

  static conflict(message: string): DomainError {
    return new DomainError(ErrorCode.CONFLICT, message);
  }

  static validation(message: string, errors: FieldError[] = []): DomainError {
    return new DomainError(ErrorCode.VALIDATION, message, errors);
  }
}

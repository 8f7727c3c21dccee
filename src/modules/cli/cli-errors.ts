import { ConfigError } from '../../config/app-config';
import { messageOf } from '../../common/error-message';

/**
 * The exit codes of `broski` (ARCHITECTURE §6): scripts rely on them.
 * 130 is the shell's convention for "interrupted by Ctrl-C" (the workflow itself goes on).
 */
export const ExitCode = {
  OK: 0,
  WORKFLOW_FAILED: 1,
  USAGE: 2,
  UNREACHABLE: 3,
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Something the user typed is wrong: a flag, an argument, the configuration. Exit 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FieldProblem {
  path: string;
  message: string;
}

/**
 * The API (or the in-process services, which raise the same domain errors) refused a request:
 * the problem+json body as a typed error.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly errors: FieldProblem[] = [],
    readonly requestId?: string,
  ) {
    super(detail);
    this.name = 'ApiError';
  }
}

/** The server cannot be reached (connection refused, unknown host, no answer in time). Exit 3. */
export class UnreachableError extends Error {
  constructor(
    readonly url: string,
    reason: string,
  ) {
    super(`cannot reach the Broski server at ${url} (${reason})`);
    this.name = 'UnreachableError';
  }
}

/** The server answered something that does not match the contract. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export interface CliFailure {
  exitCode: ExitCode;
  /** One line for stderr, without the "broski: " prefix. */
  message: string;
  /** More lines, shown with --verbose (field errors are always shown: they are the reason). */
  details: string[];
}

/** Maps anything a command throws to its exit code and the line the user sees. */
export function toCliFailure(error: unknown): CliFailure {
  if (error instanceof UsageError) {
    return { exitCode: ExitCode.USAGE, message: error.message, details: error.details };
  }
  if (error instanceof UnreachableError) {
    return { exitCode: ExitCode.UNREACHABLE, message: error.message, details: [] };
  }
  if (error instanceof ApiError) {
    const fields = error.errors.map((e) => `${e.path}: ${e.message}`);
    const reason =
      error.errors.length > 0 && !error.message.includes(error.errors[0]?.message ?? '')
        ? `${error.message} (${fields.join('; ')})`
        : error.message;
    const details = error.requestId === undefined ? [] : [`request id: ${error.requestId}`];
    // 4xx: the request was not acceptable (validation, unknown id, not allowed now): a usage error.
    return {
      exitCode: error.status < 500 ? ExitCode.USAGE : ExitCode.WORKFLOW_FAILED,
      message: reason,
      details: [`HTTP ${error.status} ${error.code}`, ...details],
    };
  }
  if (error instanceof ConfigError) {
    return { exitCode: ExitCode.USAGE, message: error.message, details: [] };
  }
  if (error instanceof ProtocolError) {
    return { exitCode: ExitCode.WORKFLOW_FAILED, message: error.message, details: [] };
  }
  const message = messageOf(error);
  const stack = error instanceof Error && error.stack !== undefined ? [error.stack] : [];
  return { exitCode: ExitCode.WORKFLOW_FAILED, message, details: stack };
}

import type { INestApplicationContext } from '@nestjs/common';
import { Logger } from 'nestjs-pino';

export type UnhandledKind = 'rejection' | 'exception';

/** Counts of unhandled errors in this process (also exported as a metric when metrics run). */
export const unhandledCounts: Record<UnhandledKind, number> = { rejection: 0, exception: 0 };
const listeners: Array<(kind: UnhandledKind) => void> = [];

export function onUnhandled(listener: (kind: UnhandledKind) => void): void {
  listeners.push(listener);
}

let installed = false;

/**
 * Process-level safety net: an unhandled rejection or exception is logged (JSON, with the error)
 * and counted. An uncaught exception leaves the process in an unknown state, so it then shuts
 * down through `shutdown` (exit code 1).
 */
export function installProcessGuards(
  app: INestApplicationContext,
  shutdown: (exitCode: number) => void,
): void {
  if (installed) return;
  installed = true;
  // PinoLogger is transient-scoped (app.get cannot return it); nestjs-pino's Logger is not.
  const logger = app.get(Logger);
  const record = (kind: UnhandledKind, error: unknown) => {
    unhandledCounts[kind] += 1;
    for (const listener of listeners) listener(kind);
    // nestjs-pino's Logger: fields (and msg) in the object, the context as the last argument.
    logger.error({ err: error, kind, msg: `unhandled ${kind}` }, 'ProcessGuards');
  };
  process.on('unhandledRejection', (reason) => record('rejection', reason));
  process.on('uncaughtException', (error) => {
    record('exception', error);
    shutdown(1);
  });
}

import { Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule, type Params } from 'nestjs-pino';
import pino from 'pino';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';

export type ProcessRole = 'api' | 'worker' | 'cli';

/** Paths pino censors wherever they appear in a log object. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'apiKey',
  '*.apiKey',
  '*.*.apiKey',
  'key',
  '*.key',
  'token',
  '*.token',
  'password',
  '*.password',
  'OPENAI_API_KEY',
  'ANTHROPIC_API_KEY',
  '*.OPENAI_API_KEY',
  '*.ANTHROPIC_API_KEY',
];

/** The process's root logger, one per application (see `LoggingModule`). */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

export function pinoOptions(config: AppConfig, role: ProcessRole): pino.LoggerOptions {
  return {
    level: config.log.level,
    base: { service: 'broski', role, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
    ...(config.log.pretty && config.log.file === undefined
      ? { transport: { target: 'pino-pretty', options: { singleLine: true } } }
      : {}),
  };
}

/**
 * Where log lines go: stdout for the API and workers, or LOG_FILE. The CLI keeps stdout for its
 * own output, so its logs go to stderr (fd 2, whatever it is: terminal, pipe, socket or file);
 * its short-lived processes write synchronously, so no line is lost when they exit.
 */
export function logDestination(
  config: AppConfig,
  role: ProcessRole,
): pino.DestinationStream | undefined {
  if (config.log.file !== undefined) {
    return pino.destination({ dest: config.log.file, mkdir: true, sync: role === 'cli' });
  }
  return role === 'cli' ? pino.destination({ dest: 2, sync: true }) : undefined;
}

export function createRootLogger(config: AppConfig, role: ProcessRole): pino.Logger {
  const options = pinoOptions(config, role);
  const destination = logDestination(config, role);
  return destination === undefined ? pino(options) : pino(options, destination);
}

/**
 * nestjs-pino's `PinoLogger` and Nest `Logger` write through the root logger; lines that belong
 * to an HTTP request carry the `reqId` their handler passed on (`@RequestId()`). nestjs-pino's
 * request context is not used: its `AsyncLocalStorage` costs a hook on every promise on Node 20.
 * Its pino-http middleware is not mounted (`forRoutes: []`): it made two child loggers per
 * request and ran through Nest's middleware layer, a fifth of the CPU time of a small GET.
 */
function loggerParams(root: pino.Logger): Params {
  return { pinoHttp: { logger: root }, forRoutes: [], renameContext: 'context' };
}

@Module({})
class RootLoggerModule {
  static forRoot(role: ProcessRole): DynamicModule {
    return {
      module: RootLoggerModule,
      providers: [
        {
          provide: ROOT_LOGGER,
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => createRootLogger(config, role),
        },
      ],
      exports: [ROOT_LOGGER],
    };
  }
}

/** nestjs-pino configured from AppConfig: JSON lines, request ids, secrets redacted. */
@Module({})
export class LoggingModule {
  static forRoot(role: ProcessRole): DynamicModule {
    const root = RootLoggerModule.forRoot(role);
    return {
      module: LoggingModule,
      imports: [
        root,
        LoggerModule.forRootAsync({
          imports: [root],
          inject: [ROOT_LOGGER],
          useFactory: loggerParams,
        }),
      ],
      exports: [LoggerModule, root],
    };
  }
}

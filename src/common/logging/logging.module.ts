import { Module, type DynamicModule } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
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

type HttpOptions = Exclude<NonNullable<Params['pinoHttp']>, unknown[] | pino.DestinationStream>;
type RawRequest = IncomingMessage & { id?: unknown };

function loggerParams(config: AppConfig, role: ProcessRole): Params {
  const options = pinoOptions(config, role);
  const destination = logDestination(config, role);
  const httpOptions: HttpOptions = {
    ...options,
    quietReqLogger: true,
    genReqId: (req: RawRequest) => (typeof req.id === 'string' ? req.id : ''),
    customLogLevel: (_req: IncomingMessage, res: ServerResponse, err?: Error) =>
      res.statusCode >= 500 || err !== undefined ? 'error' : 'info',
    // Under Nest's Fastify middleware (middie) req.url is relative to the mount point ("/"):
    // the path as received is in originalUrl.
    autoLogging: {
      ignore: (req: IncomingMessage & { originalUrl?: string }) =>
        (req.originalUrl ?? req.url ?? '').startsWith('/health'),
    },
    serializers: {
      req: (req: { id: unknown; method: unknown; url: unknown }) => ({
        id: req.id,
        method: req.method,
        url: req.url,
      }),
      res: (res: { statusCode: unknown }) => ({ statusCode: res.statusCode }),
    },
  };
  return {
    pinoHttp: destination === undefined ? httpOptions : [httpOptions, destination],
    renameContext: 'context',
  };
}

/** nestjs-pino configured from AppConfig: JSON lines, request ids, secrets redacted. */
@Module({})
export class LoggingModule {
  static forRoot(role: ProcessRole): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRootAsync({
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => loggerParams(config, role),
        }),
      ],
      exports: [LoggerModule],
    };
  }
}

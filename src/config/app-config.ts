import * as path from 'node:path';
import { z } from 'zod';
import { envSchema, type Env } from './env.schema';

export type QueueDriverName = 'inline' | 'bullmq';

/** The typed, nested configuration every module receives by injection (token APP_CONFIG). */
export interface AppConfig {
  env: Env['NODE_ENV'];
  http: {
    host: string;
    port: number;
    bodyLimitBytes: number;
    rateLimitPerMinute: number;
    requestTimeoutMs: number;
    corsOrigins: string[];
  };
  database: {
    path: string;
    synchronous: Env['SQLITE_SYNCHRONOUS'];
    busyTimeoutMs: number;
    /** How often a worker thread checkpoints the WAL; 0: SQLite does it in the writing thread. */
    checkpointIntervalMs: number;
  };
  queue: {
    driver: QueueDriverName;
    redisUrl: string | undefined;
    runWorkers: boolean;
    concurrency: number;
    /** A worker process serves /metrics and /health/* on this port (HOST); 0: it does not. */
    workerMetricsPort: number;
    /**
     * How many newly ready steps (and a workflow's final review) a job may run itself after its
     * own work, instead of handing each to the queue; 0: every step is a job of its own.
     */
    chainSteps: number;
    queues: Array<'workflows' | 'tasks'>;
    shutdownGraceMs: number;
    reconcileIntervalMs: number;
    lockMs: number;
    jobAttempts: number;
    keepCompleted: number;
    keepFailed: number;
    prefix: string;
  };
  llm: {
    defaultModel: string;
    timeoutMs: number;
    retryBaseMs: number;
    maxAttempts: number;
    offlineLatencyMs: number;
    openai: { apiKey: string | undefined; baseUrl: string };
    anthropic: { apiKey: string | undefined; baseUrl: string };
  };
  log: { level: Env['LOG_LEVEL']; pretty: boolean; file: string | undefined };
  backup: { onShutdown: boolean; dir: string; keep: number };
  cli: { apiUrl: string | undefined; apiKey: string | undefined };
}

export class ConfigError extends Error {
  constructor(readonly problems: Array<{ variable: string; message: string }>) {
    super(`Invalid configuration: ${problems.map((p) => `${p.variable} ${p.message}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment once. Throws ConfigError naming every bad variable. Empty strings count
 * as unset so that `PORT=` in a .env file falls back to the default.
 */
export function loadConfig(source: Record<string, string | undefined>): AppConfig {
  const input: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = source[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = envSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({
        variable: issue.path.map(String).join('.') || '(environment)',
        message: issue.message,
      })),
    );
  }
  return toAppConfig(parsed.data);
}

function toAppConfig(env: Env): AppConfig {
  const redisRequired = env.QUEUE_DRIVER === 'bullmq';
  if (redisRequired && env.REDIS_URL === undefined) {
    throw new ConfigError([
      { variable: 'REDIS_URL', message: 'must be set when QUEUE_DRIVER=bullmq' },
    ]);
  }
  const driver: QueueDriverName =
    env.QUEUE_DRIVER === 'auto' ? (env.REDIS_URL ? 'bullmq' : 'inline') : env.QUEUE_DRIVER;
  return {
    env: env.NODE_ENV,
    http: {
      host: env.HOST,
      port: env.PORT,
      bodyLimitBytes: env.BODY_LIMIT_BYTES,
      rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
      requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
      corsOrigins: env.CORS_ORIGINS,
    },
    database: {
      path: env.DATABASE_PATH === ':memory:' ? ':memory:' : path.resolve(env.DATABASE_PATH),
      synchronous: env.SQLITE_SYNCHRONOUS,
      busyTimeoutMs: env.SQLITE_BUSY_TIMEOUT_MS,
      checkpointIntervalMs: env.SQLITE_CHECKPOINT_INTERVAL_MS,
    },
    queue: {
      driver,
      redisUrl: env.REDIS_URL,
      runWorkers: env.RUN_WORKERS,
      concurrency: env.WORKER_CONCURRENCY,
      workerMetricsPort: env.WORKER_METRICS_PORT,
      chainSteps: env.JOB_CHAIN_STEPS,
      queues: env.WORKER_QUEUES,
      shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
      reconcileIntervalMs: env.RECONCILE_INTERVAL_MS,
      lockMs: env.QUEUE_LOCK_MS,
      jobAttempts: env.QUEUE_JOB_ATTEMPTS,
      keepCompleted: env.QUEUE_KEEP_COMPLETED,
      keepFailed: env.QUEUE_KEEP_FAILED,
      prefix: env.QUEUE_PREFIX,
    },
    llm: {
      defaultModel: env.DEFAULT_MODEL,
      timeoutMs: env.LLM_TIMEOUT_MS,
      retryBaseMs: env.LLM_RETRY_BASE_MS,
      maxAttempts: env.TASK_MAX_ATTEMPTS,
      offlineLatencyMs: env.OFFLINE_LATENCY_MS,
      openai: {
        apiKey: env.OPENAI_API_KEY,
        baseUrl: env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1',
      },
      anthropic: {
        apiKey: env.ANTHROPIC_API_KEY,
        baseUrl: env.ANTHROPIC_BASE_URL ?? 'https://api.anthropic.com/v1',
      },
    },
    log: { level: env.LOG_LEVEL, pretty: env.LOG_PRETTY, file: env.LOG_FILE },
    backup: {
      onShutdown: env.BACKUP_ON_SHUTDOWN,
      dir: path.resolve(env.BACKUP_DIR),
      keep: env.BACKUP_KEEP,
    },
    cli: { apiUrl: env.BROSKI_API_URL, apiKey: env.BROSKI_API_KEY },
  };
}

/** Reads `.env` (if present) into the environment without overriding what is already set, then parses. */
export function loadConfigFromProcess(): AppConfig {
  loadDotEnv();
  return loadConfig(process.env);
}

function loadDotEnv(): void {
  // process.loadEnvFile exists on Node >= 20.12; it never overrides variables already set.
  try {
    process.loadEnvFile('.env');
  } catch (error) {
    if (!isMissingFile(error)) throw error;
  }
}

function isMissingFile(error: unknown): boolean {
  return z.object({ code: z.literal('ENOENT') }).safeParse(error).success;
}

export const APP_CONFIG = Symbol('APP_CONFIG');

import { z } from 'zod';

/** Boolean environment flag: accepts true/false/1/0/yes/no (any case). */
const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'TRUE', 'FALSE', 'True', 'False', 'YES', 'NO'])
    .default(fallback ? 'true' : 'false')
    .transform((value) => ['true', '1', 'yes'].includes(value.toLowerCase()));

const int = (fallback: number, min: number, max: number) =>
  z.coerce
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(fallback);

const optionalText = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();

const optionalUrl = z
  .string()
  .trim()
  .optional()
  .transform((value) => (value === undefined || value === '' ? undefined : value))
  .pipe(z.url({ error: 'must be an absolute URL' }).optional());

const modelName = z
  .string()
  .trim()
  .regex(
    /^(offline(:[\w.\-/:]*)?|openai:[^\s]+|anthropic:[^\s]+)$/,
    'must be "offline", "openai:<model>" or "anthropic:<model>"',
  );

/**
 * The one schema for the process environment (ARCHITECTURE §7). Everything the platform reads from
 * the environment is named here; nothing else in the code reads process.env.
 */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
  HOST: z.string().trim().min(1, 'must not be empty').default('127.0.0.1'),
  PORT: int(3000, 0, 65535),
  DATABASE_PATH: z.string().trim().min(1, 'must not be empty').default('./data/broski.db'),
  SQLITE_SYNCHRONOUS: z.enum(['OFF', 'NORMAL', 'FULL', 'EXTRA']).default('NORMAL'),
  SQLITE_BUSY_TIMEOUT_MS: int(5000, 0, 600_000),
  SQLITE_CHECKPOINT_INTERVAL_MS: int(50, 0, 60_000),
  REDIS_URL: optionalUrl,
  QUEUE_DRIVER: z.enum(['auto', 'inline', 'bullmq']).default('auto'),
  RUN_WORKERS: flag(true),
  WORKER_CONCURRENCY: int(25, 1, 256),
  WORKER_METRICS_PORT: int(0, 0, 65535),
  JOB_CHAIN_STEPS: int(12, 0, 100),
  WORKER_QUEUES: z
    .string()
    .trim()
    .default('workflows,tasks')
    .transform((value) =>
      value
        .split(',')
        .map((q) => q.trim())
        .filter((q) => q !== ''),
    )
    .pipe(z.array(z.enum(['workflows', 'tasks'])).min(1, 'must name at least one queue')),
  SHUTDOWN_GRACE_MS: int(10_000, 0, 600_000),
  QUEUE_LOCK_MS: int(30_000, 1000, 600_000),
  QUEUE_JOB_ATTEMPTS: int(5, 1, 100),
  QUEUE_KEEP_COMPLETED: int(1000, 0, 1_000_000),
  QUEUE_KEEP_FAILED: int(5000, 0, 1_000_000),
  QUEUE_PREFIX: z
    .string()
    .trim()
    .regex(/^[\w:.-]{1,64}$/, 'must be 1–64 characters of letters, digits, ":", ".", "_" or "-"')
    .default('broski'),
  RECONCILE_INTERVAL_MS: int(30_000, 0, 3_600_000),
  DEFAULT_MODEL: modelName.default('offline'),
  OFFLINE_LATENCY_MS: int(0, 0, 60_000),
  OPENAI_API_KEY: optionalText,
  OPENAI_BASE_URL: optionalUrl,
  ANTHROPIC_API_KEY: optionalText,
  ANTHROPIC_BASE_URL: optionalUrl,
  LLM_TIMEOUT_MS: int(60_000, 100, 3_600_000),
  LLM_RETRY_BASE_MS: int(500, 0, 60_000),
  TASK_MAX_ATTEMPTS: int(3, 1, 20),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PRETTY: flag(false),
  LOG_FILE: optionalText,
  BODY_LIMIT_BYTES: int(1_048_576, 1024, 104_857_600),
  BACKUP_ON_SHUTDOWN: flag(true),
  BACKUP_DIR: z.string().trim().min(1, 'must not be empty').default('./data/backups'),
  BACKUP_KEEP: int(10, 1, 1000),
  RATE_LIMIT_PER_MINUTE: int(600, 0, 1_000_000),
  REQUEST_TIMEOUT_MS: int(30_000, 1000, 600_000),
  CORS_ORIGINS: z
    .string()
    .trim()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((o) => o.trim())
        .filter((o) => o !== ''),
    )
    .pipe(
      z.array(
        z.union([z.literal('*'), z.url({ error: 'must be origins like https://app.example.com' })]),
      ),
    ),
  BROSKI_API_URL: optionalUrl,
  BROSKI_API_KEY: optionalText,
});

export type Env = z.output<typeof envSchema>;

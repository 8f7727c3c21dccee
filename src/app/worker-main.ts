import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { ConfigError, loadConfigFromProcess, type AppConfig } from '../config/app-config';
import { installProcessGuards, unhandledCounts } from './process-guards';
import { closeOnSignal } from './shutdown';
import { exitOnStartupError } from './startup-error';
import { WorkerModule } from './worker.module';

/** Starts a queue worker: an application context without HTTP that consumes the queues. */
export async function startWorker(config: AppConfig) {
  if (config.queue.driver !== 'bullmq') {
    throw new ConfigError([
      {
        variable: 'REDIS_URL',
        message:
          'must be set: a separate worker needs the BullMQ driver (with the inline driver, `broski serve` runs the workflows itself)',
      },
    ]);
  }
  const app = await NestFactory.createApplicationContext(await WorkerModule.forRoot(config), {
    bufferLogs: true,
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  app.flushLogs();
  await app.init();
  if (config.queue.workerMetricsPort > 0) {
    // Loaded only then: a worker without metrics never loads prom-client.
    const { MetricsService } = await import('../modules/metrics/metrics.service');
    app.get(MetricsService).readUnhandledErrorsFrom(() => unhandledCounts);
  }
  return app;
}

/** `npm run worker` / `broski worker`: never rejects; failures exit non-zero with one clear line. */
export async function runWorker(config?: AppConfig): Promise<void> {
  try {
    const resolved = config ?? loadConfigFromProcess();
    const app = await startWorker(resolved);
    const shutdown = closeOnSignal(app, resolved.queue.shutdownGraceMs + 15_000);
    installProcessGuards(app, shutdown);
  } catch (error) {
    exitOnStartupError(error, 'the worker');
  }
}

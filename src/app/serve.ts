import type { INestApplicationContext } from '@nestjs/common';
import { loadConfigFromProcess, type AppConfig } from '../config/app-config';
import { createHttpApp } from './http-app';
import { exitOnStartupError } from './startup-error';

/** Starts the API server (not yet handling signals: see runUntilSignal). */
export async function startServer(config: AppConfig) {
  const app = await createHttpApp(config);
  await app.listen({ host: config.http.host, port: config.http.port });
  return app;
}

/**
 * Closes the application on SIGTERM or SIGINT (readiness goes 503, requests in flight and
 * workers drain, hooks run) and exits 0; a second signal or a stuck shutdown exits 1.
 */
export function closeOnSignal(app: INestApplicationContext, boundMs: number): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      process.exit(1);
    }
    closing = true;
    const timer = setTimeout(() => {
      process.stderr.write(`broski: shutdown after ${signal} took longer than ${boundMs} ms\n`);
      process.exit(1);
    }, boundMs);
    timer.unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`broski: shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** `npm start` / `broski serve`: never rejects; a start-up failure exits non-zero with one clear line. */
export async function runServe(config?: AppConfig): Promise<void> {
  try {
    const resolved = config ?? loadConfigFromProcess();
    const app = await startServer(resolved);
    closeOnSignal(app, resolved.queue.shutdownGraceMs + 15_000);
  } catch (error) {
    exitOnStartupError(error, 'the API server');
  }
}

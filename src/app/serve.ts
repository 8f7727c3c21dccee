import { ConfigError, loadConfigFromProcess, type AppConfig } from '../config/app-config';
import { isLoopbackHost } from '../modules/access/access.hook';
import { ApiKeysService } from '../modules/access/api-keys.service';
import { createHttpApp } from './http-app';
import { installProcessGuards } from './process-guards';
import { closeOnSignal } from './shutdown';
import { exitOnStartupError } from './startup-error';

/**
 * Starts the API server. Refuses a non-loopback address while no API key exists: an open API
 * on the network would let anyone run workflows.
 */
export async function startServer(config: AppConfig) {
  if (config.queue.driver === 'inline' && !config.queue.runWorkers) {
    throw new ConfigError([
      {
        variable: 'RUN_WORKERS',
        message:
          'is false, but with the inline driver (no REDIS_URL) nothing else runs the workflows: set REDIS_URL and start `broski worker`, or leave RUN_WORKERS=true',
      },
    ]);
  }
  const app = await createHttpApp(config);
  if (!isLoopbackHost(config.http.host) && !app.get(ApiKeysService).anyActive()) {
    await app.close();
    throw new ConfigError([
      {
        variable: 'HOST',
        message: `is ${config.http.host}, not a loopback address, and no API key exists: create one first with \`broski keys create <name>\` (or listen on 127.0.0.1)`,
      },
    ]);
  }
  await app.listen({ host: config.http.host, port: config.http.port });
  return app;
}

/** `npm start` / `broski serve`: never rejects; a start-up failure exits non-zero with one clear line. */
export async function runServe(config?: AppConfig): Promise<void> {
  try {
    const resolved = config ?? loadConfigFromProcess();
    const app = await startServer(resolved);
    const shutdown = closeOnSignal(app, resolved.queue.shutdownGraceMs + 15_000);
    installProcessGuards(app, shutdown);
  } catch (error) {
    exitOnStartupError(error, 'the API server');
  }
}

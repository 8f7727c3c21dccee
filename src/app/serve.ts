import { loadConfigFromProcess, type AppConfig } from '../config/app-config';
import { createHttpApp } from './http-app';
import { exitOnStartupError } from './startup-error';

/** Starts the API server and keeps it running until a shutdown signal. */
export async function startServer(config: AppConfig) {
  const app = await createHttpApp(config);
  await app.listen({ host: config.http.host, port: config.http.port });
  return app;
}

/** `npm start` / `broski serve`: never rejects; a start-up failure exits non-zero with one clear line. */
export async function runServe(): Promise<void> {
  try {
    const config = loadConfigFromProcess();
    await startServer(config);
  } catch (error) {
    exitOnStartupError(error, 'the API server');
  }
}

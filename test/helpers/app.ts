import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import * as fs from 'node:fs';
import type { AppConfig } from '../../src/config/app-config';
import { createHttpApp } from '../../src/app/http-app';

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  close(): Promise<void>;
}

/** The real API application on a real SQLite file, ready for `app.inject` or supertest. */
export async function startTestApp(config: AppConfig & { dir?: string }): Promise<TestApp> {
  const app = await createHttpApp(config);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return {
    app,
    config,
    close: async () => {
      await app.close();
      if (config.dir !== undefined) fs.rmSync(config.dir, { recursive: true, force: true });
    },
  };
}

/** Starts listening on a random loopback port; returns the base URL. */
export async function listen(app: NestFastifyApplication): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return `http://127.0.0.1:${address.port}`;
}

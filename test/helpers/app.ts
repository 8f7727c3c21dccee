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

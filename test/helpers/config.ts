import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, type AppConfig } from '../../src/config/app-config';

/** A fresh temporary directory, removed by the caller's cleanup. */
export function tempDir(prefix = 'broski-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A configuration for tests: a new SQLite file in a temp dir, quiet logs, inline queue. */
export function testConfig(env: Record<string, string> = {}): AppConfig & { dir: string } {
  const dir = tempDir();
  const config = loadConfig({
    DATABASE_PATH: path.join(dir, 'broski.db'),
    BACKUP_DIR: path.join(dir, 'backups'),
    LOG_LEVEL: 'silent',
    QUEUE_DRIVER: 'inline',
    RECONCILE_INTERVAL_MS: '0',
    ...env,
  });
  return { ...config, dir };
}

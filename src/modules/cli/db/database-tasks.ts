import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { MIGRATIONS_DIR } from '../../../common/paths';
import type { AppConfig } from '../../../config/app-config';
import { backupDatabase, type BackupResult } from '../../database/backup';
import { openDatabase, runMigrations } from '../../database/connection';
import { UsageError } from '../cli-errors';

const journalSchema = z.object({
  entries: z.array(z.object({ tag: z.string(), when: z.number() })),
});
const appliedSchema = z.array(
  z.object({ created_at: z.union([z.number(), z.string(), z.bigint()]) }),
);

export interface MigrationReport {
  database: string;
  created: boolean;
  applied: string[];
  total: number;
}

/** Applies the pending migrations to DATABASE_PATH and tells which ones it applied. */
export function migrateDatabase(config: AppConfig['database']): MigrationReport {
  const created = config.path === ':memory:' || !fs.existsSync(config.path);
  const journal = journalSchema.parse(
    JSON.parse(fs.readFileSync(path.join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')),
  );
  const connection = openDatabase(config);
  try {
    const before = appliedMigrations(connection.sqlite);
    runMigrations(connection);
    const after = appliedMigrations(connection.sqlite);
    const applied = journal.entries
      .filter((entry) => after.has(entry.when) && !before.has(entry.when))
      .map((entry) => entry.tag);
    return { database: config.path, created, applied, total: after.size };
  } finally {
    if (connection.sqlite.open) {
      connection.sqlite.pragma('wal_checkpoint(TRUNCATE)');
      connection.sqlite.close();
    }
  }
}

function appliedMigrations(sqlite: ReturnType<typeof openDatabase>['sqlite']): Set<number> {
  const table = sqlite
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'",
    )
    .all();
  if (table.length === 0) return new Set();
  const rows = appliedSchema.parse(
    sqlite.prepare('SELECT created_at FROM __drizzle_migrations').all(),
  );
  return new Set(rows.map((row) => Number(row.created_at)));
}

/** `broski db backup [path]`: an online, verified copy of DATABASE_PATH. */
export async function backupConfiguredDatabase(
  config: AppConfig,
  target: string | undefined,
): Promise<BackupResult> {
  const file = config.database.path;
  if (file === ':memory:')
    throw new UsageError('DATABASE_PATH is :memory:; there is nothing to back up');
  if (!fs.existsSync(file)) throw new UsageError(`there is no database at ${file} (DATABASE_PATH)`);
  const connection = openDatabase(config.database);
  try {
    return await backupDatabase(connection.sqlite, {
      target,
      dir: config.backup.dir,
      keep: config.backup.keep,
    });
  } finally {
    connection.sqlite.close();
  }
}

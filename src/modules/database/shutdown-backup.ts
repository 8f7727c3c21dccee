import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { backupDatabase } from './backup';
import { SQLITE } from './database.tokens';
import { Transactor } from './transactor';

/**
 * Backs up the database when the API stops (BACKUP_ON_SHUTDOWN). It runs after the HTTP server
 * closed and the in-process workers drained, and before the database closes (the global
 * database module shuts down last), so the copy holds every accepted workflow.
 */
@Injectable()
export class ShutdownBackup implements OnApplicationShutdown {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(SQLITE) private readonly sqlite: Database.Database,
    private readonly transactor: Transactor,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(ShutdownBackup.name);
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.config.backup.onShutdown || this.config.database.path === ':memory:') return;
    if (!this.sqlite.open) return;
    try {
      // The copy includes the records still waiting for a transaction (Transactor.defer).
      this.transactor.flush();
    } catch (error) {
      // The copy is still worth taking: SQLite's online backup reads while another process writes.
      this.logger.error({ err: error }, 'deferred records could not be written before the backup');
    }
    try {
      const result = await backupDatabase(this.sqlite, {
        dir: this.config.backup.dir,
        keep: this.config.backup.keep,
      });
      this.logger.info(
        {
          path: result.path,
          bytes: result.bytes,
          durationMs: result.durationMs,
          pruned: result.pruned.length,
        },
        'database backed up at shutdown',
      );
    } catch (error) {
      this.logger.error({ err: error }, 'the shutdown backup failed');
    }
  }
}

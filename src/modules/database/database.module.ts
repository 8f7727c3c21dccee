import {
  Global,
  Inject,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import type Database from 'better-sqlite3';
import { PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { openDatabase, runMigrations, type Connection } from './connection';
import { DRIZZLE, SQLITE } from './database.tokens';
import { Transactor } from './transactor';
import { WalCheckpointer } from './wal-checkpointer';

const CONNECTION = Symbol('SQLITE_CONNECTION');

/**
 * One SQLite connection per process, migrated at start-up, closed last at shutdown; a file
 * database's WAL is checkpointed from a worker thread meanwhile (SQLITE_CHECKPOINT_INTERVAL_MS).
 */
@Global()
@Module({
  providers: [
    {
      provide: CONNECTION,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): Connection => {
        const connection = openDatabase(config.database);
        runMigrations(connection);
        return connection;
      },
    },
    { provide: DRIZZLE, inject: [CONNECTION], useFactory: (c: Connection) => c.db },
    { provide: SQLITE, inject: [CONNECTION], useFactory: (c: Connection) => c.sqlite },
    Transactor,
  ],
  exports: [DRIZZLE, SQLITE, Transactor],
})
export class DatabaseModule implements OnModuleInit, OnApplicationShutdown {
  private checkpointer: WalCheckpointer | undefined;

  constructor(
    @Inject(SQLITE) private readonly sqlite: Database.Database,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly transactor: Transactor,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(DatabaseModule.name);
  }

  onModuleInit(): void {
    const { path, checkpointIntervalMs } = this.config.database;
    if (path === ':memory:' || checkpointIntervalMs === 0) return;
    this.checkpointer = WalCheckpointer.start(this.sqlite, {
      intervalMs: checkpointIntervalMs,
      onFailure: (reason) =>
        this.logger.warn(
          { reason },
          'the WAL checkpoint thread stopped; SQLite checkpoints in the writing thread again',
        ),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.checkpointer?.stop();
    if (this.sqlite.open) {
      // Records still waiting for a transaction (see Transactor.defer) are written first.
      try {
        this.transactor.flush();
      } catch (error) {
        this.logger.error({ err: error }, 'deferred records could not be written at shutdown');
      }
      // Fold the WAL back into the main file so a stopped database is one self-contained file.
      this.sqlite.pragma('wal_checkpoint(TRUNCATE)');
      this.sqlite.close();
    }
  }
}

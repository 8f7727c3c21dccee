import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import type Database from 'better-sqlite3';
import { SQLITE } from '../database/database.tokens';

/** Ready when the SQLite file answers a query. */
@Injectable()
export class DatabaseHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    @Inject(SQLITE) private readonly sqlite: Database.Database,
  ) {}

  check() {
    const session = this.indicator.check('database');
    try {
      this.sqlite.prepare('SELECT 1').get();
      return session.up();
    } catch (error) {
      return session.down({ message: error instanceof Error ? error.message : 'unreachable' });
    }
  }
}

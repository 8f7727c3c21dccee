import { Inject, Injectable } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { SQLITE } from './database.tokens';

type NotAPromise<T> = T extends PromiseLike<unknown> ? never : T;

/**
 * Runs several repository calls as one write transaction. better-sqlite3 is synchronous, so the
 * callback must be synchronous too (an async callback would commit before its awaits ran; the
 * type forbids it). `BEGIN IMMEDIATE` takes the write lock first, so concurrent writers in other
 * processes wait on the busy timeout instead of failing with SQLITE_BUSY halfway through.
 */
@Injectable()
export class Transactor {
  constructor(@Inject(SQLITE) private readonly sqlite: Database.Database) {}

  immediate<T>(work: () => NotAPromise<T>): T {
    return this.sqlite.transaction(work).immediate();
  }
}

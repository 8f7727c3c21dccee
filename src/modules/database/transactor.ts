import { Inject, Injectable } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { SQLITE } from './database.tokens';

/** How long deferred writes wait before another attempt when their transaction failed. */
const RETRY_MS = 100;

type NotAPromise<T> = T extends PromiseLike<unknown> ? never : T;

/**
 * Runs several repository calls as one write transaction. better-sqlite3 is synchronous, so the
 * callback must be synchronous too (an async callback would commit before its awaits ran; the
 * type forbids it). `BEGIN IMMEDIATE` takes the write lock first, so concurrent writers in other
 * processes wait on the busy timeout instead of failing with SQLITE_BUSY halfway through.
 *
 * `defer` is for records that need not be a transaction of their own (a model call's usage row):
 * they are written inside the next transaction this process opens, which follows at once on the
 * hot paths (the step that made the call stores its result), or else in their own transaction
 * on the next turn of the event loop, and at the latest when the database closes. On this
 * machine a commit costs about 100 µs, more than the rows it writes; this saves one per model
 * call.
 */
@Injectable()
export class Transactor {
  private pending: (() => void)[] = [];
  private flushScheduled = false;

  constructor(@Inject(SQLITE) private readonly sqlite: Database.Database) {}

  immediate<T>(work: () => NotAPromise<T>): T {
    if (this.pending.length === 0) return this.sqlite.transaction(work).immediate();
    const deferred = this.takePending();
    try {
      return this.sqlite
        .transaction(() => {
          for (const write of deferred) write();
          return work();
        })
        .immediate();
    } catch (error) {
      // Nothing of it committed: the deferred writes wait for the next transaction.
      this.pending = [...deferred, ...this.pending];
      this.scheduleFlush(RETRY_MS);
      throw error;
    }
  }

  /**
   * Queues a write for the next transaction. It must not throw (it handles its own errors): a
   * deferred write must never roll back the transaction it joins.
   */
  defer(write: () => void): void {
    this.pending.push(write);
    this.scheduleFlush();
  }

  /** Writes what `defer` queued now, in one transaction of their own. */
  flush(): void {
    if (this.pending.length === 0 || !this.sqlite.open) return;
    const deferred = this.takePending();
    try {
      this.sqlite
        .transaction(() => {
          for (const write of deferred) write();
        })
        .immediate();
    } catch (error) {
      // BEGIN failed (the database stayed busy beyond its timeout): try again a little later.
      this.pending = [...deferred, ...this.pending];
      this.scheduleFlush(RETRY_MS);
      throw error;
    }
  }

  private takePending(): (() => void)[] {
    const deferred = this.pending;
    this.pending = [];
    return deferred;
  }

  private scheduleFlush(delayMs = 0): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const run = () => {
      this.flushScheduled = false;
      try {
        this.flush();
      } catch {
        // flush() scheduled another attempt.
      }
    };
    if (delayMs === 0) setImmediate(run);
    else setTimeout(run, delayMs).unref();
  }
}

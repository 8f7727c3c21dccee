import { Inject, Injectable, Optional } from '@nestjs/common';
import Database from 'better-sqlite3';
import { PinoLogger } from 'nestjs-pino';
import { performance } from 'node:perf_hooks';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { SQLITE } from './database.tokens';

/** How long deferred writes wait before another attempt when their transaction failed. */
const RETRY_MS = 100;
/** The first and the longest wait between two attempts to take the write lock. */
const FIRST_WAIT_MS = 0.05;
const LONGEST_WAIT_MS = 4;

type NotAPromise<T> = T extends PromiseLike<unknown> ? never : T;

function isBusy(error: unknown): boolean {
  return error instanceof Database.SqliteError && error.code.startsWith('SQLITE_BUSY');
}

/**
 * Runs several repository calls as one write transaction. better-sqlite3 is synchronous, so the
 * callback must be synchronous too (an async callback would commit before its awaits ran; the
 * type forbids it). `BEGIN IMMEDIATE` takes the write lock first, so the work never fails with
 * SQLITE_BUSY halfway through.
 *
 * While another process holds the write lock, SQLite's own busy handler sleeps 1, 2, 5, 10 ms…
 * between attempts, far longer than our transactions hold the lock (~0.1 ms): with two workers
 * and the API writing, most of the time went to those sleeps. Taking the lock is retried here
 * instead, after 0.05 ms, then twice as long each time up to 4 ms, within SQLITE_BUSY_TIMEOUT_MS
 * in all; every other statement keeps SQLite's busy timeout.
 *
 * `defer` is for records that need not be a transaction of their own (a model call's usage row):
 * they are written inside the next transaction this process opens, which follows at once on the
 * hot paths (the step that made the call stores its result), or else in their own transaction
 * on the next turn of the event loop, and at the latest when the database closes. A commit
 * costs about 0.1 ms here, more than the row it writes; this saves one per model call.
 */
@Injectable()
export class Transactor {
  private pending: (() => void)[] = [];
  private flushScheduled = false;
  private readonly busyTimeoutMs: number;
  private readonly noBusyWait: Database.Statement;
  private readonly busyWait: Database.Statement;
  private readonly sleeper = new Int32Array(new SharedArrayBuffer(4));

  constructor(
    @Inject(SQLITE) private readonly sqlite: Database.Database,
    @Inject(APP_CONFIG) config: Pick<AppConfig, 'database'>,
    @Optional() private readonly logger?: PinoLogger,
  ) {
    this.logger?.setContext(Transactor.name);
    this.busyTimeoutMs = config.database.busyTimeoutMs;
    this.noBusyWait = sqlite.prepare('PRAGMA busy_timeout = 0');
    this.busyWait = sqlite.prepare(`PRAGMA busy_timeout = ${this.busyTimeoutMs}`);
  }

  immediate<T>(work: () => NotAPromise<T>): T {
    if (this.pending.length === 0) return this.run(work);
    const deferred = this.takePending();
    try {
      return this.run(() => {
        this.writeDeferred(deferred);
        return work();
      });
    } catch (error) {
      // Nothing of it committed: the deferred writes wait for the next transaction.
      this.pending = [...deferred, ...this.pending];
      this.scheduleFlush(RETRY_MS);
      throw error;
    }
  }

  /**
   * Queues a write for the next transaction. It runs in a savepoint of its own: if it throws, it
   * is dropped (and logged) and the transaction it joined goes on without it.
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
      this.run(() => this.writeDeferred(deferred));
    } catch (error) {
      // The write lock stayed taken beyond the busy timeout: try again a little later.
      this.pending = [...deferred, ...this.pending];
      this.scheduleFlush(RETRY_MS);
      throw error;
    }
  }

  private writeDeferred(deferred: readonly (() => void)[]): void {
    for (const write of deferred) {
      try {
        this.sqlite.transaction(write)();
      } catch (error) {
        this.logger?.error({ err: error }, 'a deferred write failed and was dropped');
      }
      // SQLite rolls the whole transaction back by itself on some errors (disk full, I/O): the
      // rest must not run statement by statement outside it.
      if (!this.sqlite.inTransaction) {
        throw new Error('SQLite rolled the transaction back while writing deferred records');
      }
    }
  }

  /** BEGIN IMMEDIATE with short retries while another process writes (see the class comment). */
  private run<T>(work: () => T): T {
    // Inside another transaction: a savepoint, as better-sqlite3 nests them.
    if (this.sqlite.inTransaction) return this.sqlite.transaction(work)();
    let began = false;
    const transaction = this.sqlite.transaction(() => {
      began = true;
      this.busyWait.get();
      return work();
    });
    const started = performance.now();
    let waitMs = FIRST_WAIT_MS;
    for (;;) {
      this.noBusyWait.get();
      try {
        return transaction.immediate();
      } catch (error) {
        if (began) throw error;
        this.busyWait.get();
        if (!isBusy(error) || performance.now() - started + waitMs > this.busyTimeoutMs) {
          throw error;
        }
        Atomics.wait(this.sleeper, 0, 0, waitMs);
        waitMs = Math.min(waitMs * 2, LONGEST_WAIT_MS);
      }
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
      } catch (error) {
        this.logger?.warn({ err: error }, 'deferred records not written yet; trying again');
      }
    };
    if (delayMs === 0) setImmediate(run);
    else setTimeout(run, delayMs).unref();
  }
}

import { Inject, Injectable, Optional } from '@nestjs/common';
import Database from 'better-sqlite3';
import { PinoLogger } from 'nestjs-pino';
import { z } from 'zod';
import { SQLITE } from './database.tokens';
import { isBusy, retryWhileBusy } from './busy';

/** How long deferred writes wait before another attempt when their transaction failed. */
const RETRY_MS = 100;
/**
 * At most this many grouped works share one commit: bounds how long the write lock is held, and
 * how long the event loop waits for a commit.
 */
export const MAX_GROUP = 256;

const busyTimeoutSchema = z.number().int().nonnegative();

type NotAPromise<T> = T extends PromiseLike<unknown> ? never : T;

/** A work waiting for the next group commit, and how to tell its caller how it went. */
interface GroupedWork {
  /** Runs the work in a savepoint of the open transaction; throws what the work threw. */
  execute(): void;
  /** After the commit: the work's value, or its error. */
  done(): void;
  fail(error: unknown): void;
}

/** SQLite rolled the whole transaction back by itself (disk full, I/O error): nothing of it holds. */
class TransactionLostError extends Error {
  constructor(override readonly cause: unknown) {
    super('SQLite rolled the transaction back');
  }
}

/**
 * Runs repository calls as write transactions. better-sqlite3 is synchronous, so a transaction's
 * work must be synchronous too (an async callback would commit before its awaits ran; the type
 * forbids it). `BEGIN IMMEDIATE` takes the write lock first, so the work never fails with
 * SQLITE_BUSY halfway through.
 *
 * Three ways in, by what the caller needs:
 * - `immediate(work)`: its own transaction, committed when the call returns (an accepted request
 *   is on disk before it is answered).
 * - `grouped(work)`: group commit. The work waits for the end of the current turn of the event
 *   loop and runs there with the other works grouped in that turn (up to MAX_GROUP; the rest on
 *   the next turns), each in a savepoint of one transaction; the promise settles once that
 *   transaction committed (or failed). A commit costs more than a step's writes (it writes every
 *   page the transaction touched to the WAL, and every thousand pages a checkpoint copies them
 *   back); concurrent jobs share it. A work that throws is rolled back alone and its promise
 *   rejects; the others commit. The write lock is held only while the works run, not while they
 *   wait.
 * - `defer(write)`: records that need no transaction of their own (a model call's usage row).
 *   They are written inside the next transaction of this process (grouped works, or an
 *   `immediate`), else on the next turn of the event loop, and at the latest when the database
 *   closes.
 *
 * While another process holds the write lock, `BEGIN IMMEDIATE` blocks the thread and tries
 * again after short pauses (`begin`), within SQLITE_BUSY_TIMEOUT_MS. A blocked worker uses no CPU
 * meanwhile, which leaves it to the process that holds the lock: on two cores, retrying from the
 * event loop instead (so that the process could go on with other jobs) ran two workers 3 %, 5 %
 * and 31 % slower in three paired runs.
 */
@Injectable()
export class Transactor {
  private pending: (() => void)[] = [];
  private queued: GroupedWork[] = [];
  private flushScheduled = false;
  private retryScheduled = false;
  private waitingForTransaction = false;
  private readonly beginStmt: Database.Statement;
  private readonly commitStmt: Database.Statement;
  private readonly rollbackStmt: Database.Statement;
  private readonly savepointStmt: Database.Statement;
  private readonly releaseStmt: Database.Statement;
  private readonly rollbackToStmt: Database.Statement;
  /** The connection's busy timeout (SQLITE_BUSY_TIMEOUT_MS). */
  private readonly busyTimeoutMs: number;

  constructor(
    @Inject(SQLITE) private readonly sqlite: Database.Database,
    @Optional() private readonly logger?: PinoLogger,
  ) {
    this.logger?.setContext(Transactor.name);
    this.beginStmt = sqlite.prepare('BEGIN IMMEDIATE');
    this.commitStmt = sqlite.prepare('COMMIT');
    this.rollbackStmt = sqlite.prepare('ROLLBACK');
    this.savepointStmt = sqlite.prepare('SAVEPOINT broski');
    this.releaseStmt = sqlite.prepare('RELEASE broski');
    this.rollbackToStmt = sqlite.prepare('ROLLBACK TO broski');
    this.busyTimeoutMs = busyTimeoutSchema.parse(sqlite.pragma('busy_timeout', { simple: true }));
  }

  /** One transaction of its own, committed when this returns (inside another: a savepoint). */
  immediate<T>(work: () => NotAPromise<T>): T {
    // Inside another transaction (called from a grouped work): part of it. Deferred records wait
    // for a transaction whose failure this one can report.
    if (this.sqlite.inTransaction) return this.savepoint(work);
    if (this.pending.length === 0) return this.run(work);
    const deferred = this.takePending();
    try {
      return this.run(() => {
        this.writeDeferred(deferred);
        return work();
      });
    } catch (error) {
      // Nothing of it committed: the deferred writes wait for the next transaction.
      this.restorePending(deferred);
      throw error;
    }
  }

  /**
   * Group commit: runs the work at the end of this turn of the event loop, in one transaction
   * with the other works grouped meanwhile; resolves with its value once that committed.
   */
  grouped<T>(work: () => NotAPromise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let value: T;
      this.queued.push({
        execute: () => {
          value = this.savepoint(work);
        },
        done: () => resolve(value),
        fail: reject,
      });
      this.scheduleFlush();
    });
  }

  /**
   * Queues a write for the next transaction. If it throws, it is dropped (and logged) and the
   * transaction it joined goes on without it (see `writeDeferred`).
   */
  defer(write: () => void): void {
    this.pending.push(write);
    this.scheduleFlush();
  }

  /**
   * Writes now everything `defer` and `grouped` queued: the deferred records, then the works,
   * MAX_GROUP works a commit. A group that fails rejects its works, and the groups after it are
   * still tried, unless another process kept the write lock for the whole busy timeout: then
   * they are rejected with that error (each would wait as long again). Throws when deferred
   * records could not be written (they stay queued). For shutdown and backups; on their own,
   * queued works are committed one group per turn of the event loop.
   */
  flush(): void {
    // Inside a transaction the group would be a savepoint of it, settled before its commit.
    if (this.sqlite.inTransaction) throw new Error('flush() was called inside a transaction');
    while (this.queued.length > 0) {
      const failure = this.commitGroup();
      if (failure !== undefined && isBusy(failure)) {
        for (const w of this.queued.splice(0)) w.fail(failure);
        if (this.pending.length > 0) throw failure;
        return;
      }
    }
    // Deferred records whose group failed get one more transaction of their own.
    if (this.pending.length > 0) this.commitGroup();
  }

  /**
   * One commit: the deferred records and the next MAX_GROUP queued works. Grouped works learn
   * how it went through their promises, and a group that did not commit returns its error;
   * throws only when deferred records alone failed.
   */
  private commitGroup(): unknown {
    const works = this.queued.splice(0, MAX_GROUP);
    if (works.length === 0 && this.pending.length === 0) return undefined;
    if (!this.sqlite.open) {
      const closed = new Error('the database is closed');
      for (const w of works) w.fail(closed);
      return closed;
    }
    const deferred = this.takePending();
    let failures: Map<GroupedWork, unknown>;
    try {
      failures = this.run(() => {
        this.writeDeferred(deferred);
        return this.executeAll(works);
      });
    } catch (error) {
      // Nothing of it committed.
      this.restorePending(deferred);
      if (works.length === 0) throw error;
      this.logger?.warn({ err: error, works: works.length }, 'a group commit failed');
      for (const w of works) w.fail(error);
      return error;
    }
    for (const w of works) {
      if (failures.has(w)) w.fail(failures.get(w));
      else w.done();
    }
    return undefined;
  }

  /** Runs each work in its own savepoint; returns the ones that threw (and were rolled back). */
  private executeAll(works: readonly GroupedWork[]): Map<GroupedWork, unknown> {
    const failures = new Map<GroupedWork, unknown>();
    for (const work of works) {
      try {
        work.execute();
      } catch (error) {
        if (!this.sqlite.inTransaction) throw new TransactionLostError(error);
        failures.set(work, error);
      }
    }
    return failures;
  }

  /**
   * The deferred records, all in one savepoint; when one of them throws, that savepoint is rolled
   * back and they are written again each in a savepoint of its own, so that only the failing one
   * is dropped.
   */
  private writeDeferred(deferred: readonly (() => void)[]): void {
    if (deferred.length === 0) return;
    try {
      this.savepoint(() => {
        for (const write of deferred) {
          write();
          // A write that caught its own error while SQLite rolled the whole transaction back
          // (disk full, I/O error): the next ones would run outside any transaction.
          if (!this.sqlite.inTransaction) throw new Error('SQLite rolled the transaction back');
        }
      });
      return;
    } catch (error) {
      if (!this.sqlite.inTransaction) throw new TransactionLostError(error);
    }
    for (const write of deferred) {
      try {
        this.savepoint(write);
      } catch (error) {
        if (!this.sqlite.inTransaction) throw new TransactionLostError(error);
        this.logger?.error({ err: error }, 'a deferred write failed and was dropped');
      }
    }
  }

  /** `work` in one write transaction (inside another: a savepoint). */
  private run<T>(work: () => T): T {
    if (this.sqlite.inTransaction) return this.savepoint(work);
    this.begin();
    let value: T;
    try {
      value = work();
      this.commitStmt.run();
    } catch (error) {
      if (this.sqlite.inTransaction) this.rollbackStmt.run();
      throw error instanceof TransactionLostError ? error.cause : error;
    }
    return value;
  }

  /**
   * `BEGIN IMMEDIATE`, waiting for the write lock while another connection holds it, up to the
   * connection's busy timeout, in short pauses (`retryWhileBusy`).
   */
  private begin(): void {
    retryWhileBusy(this.sqlite, this.busyTimeoutMs, () => this.beginStmt.run());
  }

  /**
   * `work` in a savepoint of the open transaction: rolled back alone when it throws (unless SQLite
   * rolled the whole transaction back, which the caller checks). Savepoints of one name nest.
   */
  private savepoint<T>(work: () => T): T {
    this.savepointStmt.run();
    let value: T;
    try {
      value = work();
    } catch (error) {
      if (this.sqlite.inTransaction) {
        this.rollbackToStmt.run();
        this.releaseStmt.run();
      }
      throw error;
    }
    this.releaseStmt.run();
    return value;
  }

  private takePending(): (() => void)[] {
    const deferred = this.pending;
    this.pending = [];
    return deferred;
  }

  /** Deferred records whose transaction did not commit wait for the next one. */
  private restorePending(deferred: readonly (() => void)[]): void {
    if (deferred.length === 0) return;
    this.pending = [...deferred, ...this.pending];
    this.scheduleRetry();
  }

  /**
   * A group commit at the end of this turn of the event loop (once, however often it is asked
   * for). One group a turn: between two groups of a burst, other callbacks (requests, timers,
   * queue events) get their turn.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.commitGroupLogged();
    });
  }

  /** Another commit a little later, after a transaction that could not write deferred records. */
  private scheduleRetry(): void {
    if (this.retryScheduled) return;
    this.retryScheduled = true;
    setTimeout(() => {
      this.retryScheduled = false;
      this.commitGroupLogged();
    }, RETRY_MS).unref();
  }

  private commitGroupLogged(): void {
    // Never the case today (no transaction stays open across a turn); the group would otherwise
    // be a savepoint of that transaction, settled before its commit. Tried again later.
    if (this.sqlite.inTransaction) {
      if (!this.waitingForTransaction) {
        this.waitingForTransaction = true;
        this.logger?.warn('a transaction was left open; grouped works wait for it to end');
      }
      this.scheduleRetry();
      return;
    }
    this.waitingForTransaction = false;
    try {
      this.commitGroup();
    } catch (error) {
      this.logger?.warn({ err: error }, 'deferred records not written yet; trying again');
    }
    if (this.queued.length > 0) this.scheduleFlush();
  }
}

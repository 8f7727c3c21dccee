import type Database from 'better-sqlite3';
import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import { messageOf } from '../../common/error-message';

/** SQLite's own automatic checkpoint threshold (pages), restored when the thread is gone. */
export const SQLITE_DEFAULT_AUTOCHECKPOINT = 1000;
/**
 * Past this many WAL pages (32 MB) the thread restarts the WAL: the next writer writes it from its
 * start again. A restart holds writers back while it runs; 8000 pages ran about 8 % more steps per
 * second than 1000 in paired bench runs, for a WAL file of up to 32 MB instead of 4 MB.
 */
export const RESTART_AFTER_PAGES = 8000;
/**
 * The writing connection still checkpoints by itself past this many times the restart threshold:
 * a bound on the WAL should the thread fall behind. With the thread keeping up it finds nothing
 * left to copy.
 */
export const BACKSTOP_FACTOR = 2.5;
/** How long a restart waits for writers and readers to leave the WAL before it tries again later. */
const RESTART_WAIT_MS = 5;

/** The thread's only message: why it stopped checkpointing. */
const threadMessageSchema = z.object({ failed: z.string() });

/**
 * The thread's code (CommonJS, run with `eval`): its own connection to the database file, a
 * PASSIVE checkpoint every `intervalMs` (copies committed pages into the main file and syncs it,
 * never blocking a writer), and a RESTART one once the WAL holds `restartPages` pages, so that
 * the next transaction writes the WAL from its start again instead of growing it.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const reasonOf = (error) => (error instanceof Error ? error.message : String(error));
let db;
let timer;
function finish() {
  clearInterval(timer);
  if (db !== undefined && db.open) db.close();
  parentPort.close();
}
try {
  const Database = require(workerData.driver);
  db = new Database(workerData.file, { fileMustExist: true });
  db.pragma('busy_timeout = ' + workerData.restartWaitMs);
  db.pragma('synchronous = ' + workerData.synchronous);
  const passive = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
  const restart = db.prepare('PRAGMA wal_checkpoint(RESTART)');
  timer = setInterval(() => {
    try {
      if (passive.get().log >= workerData.restartPages) restart.get();
    } catch (error) {
      parentPort.postMessage({ failed: reasonOf(error) });
      finish();
    }
  }, workerData.intervalMs);
} catch (error) {
  parentPort.postMessage({ failed: reasonOf(error) });
  finish();
}
parentPort.on('message', finish);
`;

export interface CheckpointerOptions {
  /** How often the thread checkpoints (ms). */
  intervalMs: number;
  /** WAL pages past which the thread restarts the WAL (RESTART_AFTER_PAGES unless given). */
  restartPages?: number;
  /** Told once when the thread stops checkpointing before `stop()` (the writer checkpoints again). */
  onFailure: (reason: string) => void;
}

/**
 * Checkpoints a WAL database from a worker thread, so the writing thread does not.
 *
 * A checkpoint copies the WAL's pages into the main file and syncs both files to disk. SQLite
 * runs it in the connection whose commit took the WAL past 1000 pages; measured here, that made a
 * commit cost about four times as much per page as writing the page (two fsyncs of a few MB
 * each, every 1000 pages). The thread takes them over: the writing connection's own threshold
 * goes up to BACKSTOP_FACTOR times the restart threshold (a bound should the thread fall behind),
 * and back to SQLite's default when the thread stops or fails. Durability is the same: in WAL
 * mode with synchronous=NORMAL, commits are synced at checkpoints, whichever thread runs them.
 */
export class WalCheckpointer {
  private stopped = false;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly sqlite: Database.Database,
    private readonly worker: Worker,
    options: CheckpointerOptions,
  ) {
    let failed = false;
    const fallBack = (reason: string) => {
      if (failed || this.stopped) return;
      failed = true;
      this.restoreAutocheckpoint();
      options.onFailure(reason);
    };
    worker.on('message', (message: unknown) => {
      const parsed = threadMessageSchema.safeParse(message);
      fallBack(parsed.success ? parsed.data.failed : 'an unexpected message from the thread');
    });
    worker.on('error', (error: unknown) => fallBack(messageOf(error)));
    this.exited = new Promise((resolve) => {
      worker.once('exit', () => {
        fallBack('the thread exited');
        resolve();
      });
    });
    // A checkpoint thread never keeps the process alive.
    worker.unref();
  }

  /** Starts checkpointing the database of `sqlite` (a WAL file database) from a worker thread. */
  static start(sqlite: Database.Database, options: CheckpointerOptions): WalCheckpointer {
    const restartPages = options.restartPages ?? RESTART_AFTER_PAGES;
    const worker = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: {
        driver: require.resolve('better-sqlite3'),
        file: sqlite.name,
        intervalMs: options.intervalMs,
        restartPages,
        restartWaitMs: RESTART_WAIT_MS,
        // A checkpoint syncs as its connection's setting says: the writer's (SQLITE_SYNCHRONOUS).
        synchronous: z
          .number()
          .int()
          .parse(sqlite.pragma('synchronous', { simple: true })),
      },
      // A connection and a timer: the smallest heap V8 allows is plenty.
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 },
    });
    sqlite.pragma(`wal_autocheckpoint = ${Math.ceil(restartPages * BACKSTOP_FACTOR)}`);
    return new WalCheckpointer(sqlite, worker, options);
  }

  /** Stops the thread (its connection closed) and gives checkpoints back to the writer. */
  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      // Held until the thread has closed its connection: the process must not end meanwhile
      // (what a shutdown does next, the final checkpoint and close, would never run).
      this.worker.ref();
      this.worker.postMessage('stop');
      this.restoreAutocheckpoint();
    }
    await this.exited;
  }

  private restoreAutocheckpoint(): void {
    if (this.sqlite.open)
      this.sqlite.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_AUTOCHECKPOINT}`);
  }
}

import type Database from 'better-sqlite3';

/**
 * SQLITE_BUSY and its extended codes, told by the error's code alone: where better-sqlite3's
 * JavaScript is loaded more than once in a process (Jest runs each test file in a context of its
 * own, with its own classes, while the native addon is loaded once), its errors come with the
 * first copy's classes, and `instanceof` fails.
 */
export function isBusy(error: unknown): error is Error & { code: string } {
  return (
    typeof error === 'object' &&
    error !== null &&
    'name' in error &&
    typeof error.name === 'string' &&
    'message' in error &&
    typeof error.message === 'string' &&
    'code' in error &&
    typeof error.code === 'string' &&
    error.code.startsWith('SQLITE_BUSY')
  );
}

/**
 * The pauses between attempts at a lock while another connection holds it, in ms (the last one
 * repeats). SQLite's own busy handler sleeps 1, 2, 5, 10… ms, while a writer here holds the lock
 * for 0.1–1 ms: with two workers and an API on one file, that handler left each worker waiting in
 * `BEGIN IMMEDIATE` for 22 % of its time and the API 4.8 ms per transaction on average.
 */
const LOCK_PAUSES_MS = [0.05, 0.1, 0.1, 0.2, 0.2, 0.5, 0.5, 1, 1, 2, 5] as const;

const pauseCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * `attempt` (a statement that takes a lock), tried again while it fails with SQLITE_BUSY, up to
 * the connection's busy timeout `busyTimeoutMs`; then that error, as SQLite's own wait would end.
 * The attempts run with SQLite's busy timeout lifted and the waits are LOCK_PAUSES_MS instead of
 * SQLite's sleeps; the thread is blocked either way, as better-sqlite3 is synchronous. Other
 * statements keep SQLite's own wait: the busy timeout is restored afterwards. (Through
 * `pragma()`, compiled each time: SQLite sets the busy timeout when it compiles the PRAGMA, so a
 * statement prepared once would not set it when run.) With a busy timeout of 0, one attempt.
 *
 * Besides the wait being shorter, it also covers statements SQLite fails at once without its busy
 * handler, such as switching a new file to WAL while another process writes to it.
 */
export function retryWhileBusy<T>(
  sqlite: Database.Database,
  busyTimeoutMs: number,
  attempt: () => T,
): T {
  if (busyTimeoutMs === 0) return attempt();
  sqlite.pragma('busy_timeout = 0');
  try {
    const started = performance.now();
    for (let n = 0; ; n += 1) {
      try {
        return attempt();
      } catch (error) {
        const left = busyTimeoutMs - (performance.now() - started);
        if (!isBusy(error) || left <= 0) throw error;
        const pause = LOCK_PAUSES_MS[Math.min(n, LOCK_PAUSES_MS.length - 1)] ?? 1;
        Atomics.wait(pauseCell, 0, 0, Math.min(pause, left));
      }
    }
  } finally {
    sqlite.pragma(`busy_timeout = ${busyTimeoutMs}`);
  }
}

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

const pauseCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Blocks the thread for `ms` (fractions too) before another attempt at a lock, as SQLite's own
 * busy handler does: better-sqlite3 is synchronous, so there is nothing else this thread could
 * run meanwhile without leaving a statement half done.
 */
export function pauseFor(ms: number): void {
  Atomics.wait(pauseCell, 0, 0, ms);
}

import type { INestApplicationContext } from '@nestjs/common';
import { LifecycleState } from '../modules/health/lifecycle.state';

/**
 * Graceful shutdown on SIGTERM or SIGINT: readiness turns 503 at once, then the application
 * closes (workers drain, requests in flight and live streams end, the backup is written) and the
 * process exits 0; a second signal or a shutdown past `boundMs` exits 1.
 */
export function closeOnSignal(
  app: INestApplicationContext,
  boundMs: number,
): (code: number) => void {
  let closing = false;
  const shutdown = (exitCode: number, signal?: string) => {
    if (closing) {
      if (signal !== undefined) process.exit(1);
      return;
    }
    closing = true;
    app.get(LifecycleState, { strict: false }).startDraining();
    const timer = setTimeout(() => {
      process.stderr.write(`broski: shutdown took longer than ${boundMs} ms\n`);
      process.exit(1);
    }, boundMs);
    timer.unref();
    app.close().then(
      () => process.exit(exitCode),
      (error: unknown) => {
        process.stderr.write(`broski: shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown(0, 'SIGTERM'));
  process.on('SIGINT', () => shutdown(0, 'SIGINT'));
  return shutdown;
}

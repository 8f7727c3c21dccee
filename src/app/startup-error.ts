import { ConfigError } from '../config/app-config';
import { messageOf } from '../common/error-message';

/** Prints why a process could not start (one line, on stderr) and exits non-zero. */
export function exitOnStartupError(error: unknown, what: string): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`broski: cannot start ${what}: ${error.message}\n`);
    process.exit(2);
  }
  const message = messageOf(error);
  process.stderr.write(`broski: cannot start ${what}: ${message}\n`);
  process.exit(1);
}

import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { messageOf } from '../../common/error-message';

/** Backups written by `backupDatabase` into the backup directory are named like this. */
export const BACKUP_FILE_PATTERN = /^broski-\d{8}T\d{6}\d{3}Z\.db$/;

export interface BackupOptions {
  /** Where to write the copy; default `<dir>/broski-<UTC timestamp>.db`. */
  target?: string;
  /** The backup directory (BACKUP_DIR). */
  dir: string;
  /** How many backups to keep in `dir` (BACKUP_KEEP); older ones are deleted. */
  keep: number;
  now?: Date;
}

export interface BackupResult {
  path: string;
  bytes: number;
  durationMs: number;
  /** Older backups deleted from the backup directory to keep only `keep`. */
  pruned: string[];
}

export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupError';
  }
}

/** `broski-20250102T030405678Z.db`: sorts by time, and no characters a file system refuses. */
export function backupFileName(now: Date): string {
  return `broski-${now.toISOString().replace(/[-:.]/g, '')}.db`;
}

/**
 * A consistent copy of a live database (SQLite's online backup API: writers may go on meanwhile),
 * written to a temporary name beside the target, made self-contained (no WAL), checked with
 * `PRAGMA integrity_check` and only then renamed into place — a backup that exists is whole.
 * Then the backup directory keeps only the newest `keep` backups. Used by `broski db backup` and
 * by the API at shutdown.
 */
export async function backupDatabase(
  source: Database.Database,
  options: BackupOptions,
): Promise<BackupResult> {
  const started = Date.now();
  const now = options.now ?? new Date();
  const target = path.resolve(options.target ?? path.join(options.dir, backupFileName(now)));
  if (fs.existsSync(target) && fs.statSync(target).isDirectory()) {
    throw new BackupError(`${target} is a directory; give a file name`);
  }
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const temporary = path.join(
    path.dirname(target),
    `.${path.basename(target)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    await source.backup(temporary);
    verify(temporary);
    fs.renameSync(temporary, target);
  } catch (error) {
    removeQuietly(temporary);
    if (error instanceof BackupError) throw error;
    const message = messageOf(error);
    throw new BackupError(`the backup to ${target} failed: ${message}`);
  }
  const pruned =
    path.resolve(path.dirname(target)) === path.resolve(options.dir)
      ? pruneBackups(options.dir, options.keep)
      : [];
  return {
    path: target,
    bytes: fs.statSync(target).size,
    durationMs: Date.now() - started,
    pruned,
  };
}

/** Deletes all but the newest `keep` backups (by name, which is by time) in `dir`. */
export function pruneBackups(dir: string, keep: number): string[] {
  if (!fs.existsSync(dir)) return [];
  const backups = fs
    .readdirSync(dir)
    .filter((name) => BACKUP_FILE_PATTERN.test(name))
    .sort()
    .reverse();
  const removed: string[] = [];
  for (const name of backups.slice(Math.max(0, keep))) {
    const file = path.join(dir, name);
    fs.rmSync(file, { force: true });
    removed.push(file);
  }
  return removed;
}

const integritySchema = z.string();

/** Switches the copy to a single-file journal and checks it; throws unless SQLite says "ok". */
function verify(file: string): void {
  const copy = new Database(file);
  try {
    copy.pragma('journal_mode = DELETE');
    const result = integritySchema.parse(copy.pragma('integrity_check', { simple: true }));
    if (result !== 'ok') {
      throw new BackupError(`the copy failed PRAGMA integrity_check: ${result}`);
    }
  } finally {
    copy.close();
  }
}

function removeQuietly(file: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) {
    fs.rmSync(`${file}${suffix}`, { force: true });
  }
}

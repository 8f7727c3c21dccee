import type Database from 'better-sqlite3';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import type * as schema from './schema';

/** Injection token of the Drizzle database (only repositories inject it). */
export const DRIZZLE = Symbol('DRIZZLE');
/** Injection token of the underlying better-sqlite3 connection (backups, pragmas, health). */
export const SQLITE = Symbol('SQLITE');

/** The Drizzle database with its better-sqlite3 connection (`$client`, as `drizzle()` returns it). */
export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

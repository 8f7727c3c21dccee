import { Inject, Injectable } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import { DRIZZLE, type Db } from '../database/database.tokens';
import { agents, type AgentRow, type AgentStatus, type NewAgentRow } from './agents.table';

/** Agent rows as read at one `PRAGMA data_version` of this connection. */
interface AgentCache {
  version: number;
  byType: Map<string, AgentRow>;
  active: readonly AgentRow[] | undefined;
}

function emptyCache(version: number): AgentCache {
  return { version, byType: new Map(), active: undefined };
}

/**
 * The only place that reads and writes the `agents` table.
 *
 * Every step reads its agent's row, every plan the active agents, and agents change rarely: the
 * rows read are kept (frozen) until the database changes. `PRAGMA data_version` tells when
 * another connection (another process) has committed anything since; this connection's own
 * writes to agents go through this class, which drops what it kept. An edit made anywhere is
 * seen by the next read in every process, as without the cache. Reads inside a transaction
 * (which may see its own uncommitted writes) are not kept.
 */
@Injectable()
export class AgentsRepository {
  private readonly byType;
  private readonly activeTypes;
  private readonly dataVersion: Database.Statement;
  private cache = emptyCache(-1);

  private readonly sqlite: Database.Database;

  constructor(@Inject(DRIZZLE) private readonly db: Db) {
    this.sqlite = db.$client;
    this.dataVersion = this.sqlite.prepare('PRAGMA data_version').pluck();
    this.byType = db
      .select()
      .from(agents)
      .where(eq(agents.type, sql.placeholder('type')))
      .prepare();
    this.activeTypes = db
      .select()
      .from(agents)
      .where(eq(agents.status, 'active'))
      .orderBy(asc(agents.id))
      .prepare();
  }

  findByType(type: string): AgentRow | undefined {
    // Inside a transaction a read may see this connection's own uncommitted writes.
    if (this.sqlite.inTransaction) return this.byType.get({ type });
    const cache = this.current();
    const kept = cache.byType.get(type);
    if (kept !== undefined) return kept;
    const row = this.byType.get({ type });
    // Types that do not exist are not kept: any path can ask for one (a 404 of the API).
    if (row !== undefined) cache.byType.set(type, Object.freeze(row));
    return row;
  }

  listActive(): readonly AgentRow[] {
    if (this.sqlite.inTransaction) return this.activeTypes.all();
    const cache = this.current();
    cache.active ??= Object.freeze(this.activeTypes.all().map((row) => Object.freeze(row)));
    return cache.active;
  }

  /** The kept rows, or none when the database changed since they were read. */
  private current(): AgentCache {
    const version = this.dataVersion.get();
    if (version !== this.cache.version) {
      this.cache = emptyCache(typeof version === 'number' ? version : -1);
    }
    return this.cache;
  }

  /** After a write of this connection (which leaves `data_version` as it is). */
  private forget(): void {
    this.cache = emptyCache(-1);
  }

  list(options: { status?: AgentStatus; afterId?: string; limit: number }): AgentRow[] {
    const conditions = [
      options.status === undefined ? undefined : eq(agents.status, options.status),
      options.afterId === undefined ? undefined : gt(agents.id, options.afterId),
    ];
    return this.db
      .select()
      .from(agents)
      .where(and(...conditions))
      .orderBy(asc(agents.id))
      .limit(options.limit)
      .all();
  }

  /** Inserts the row; returns false when an agent of that type exists already. */
  insert(row: NewAgentRow): boolean {
    this.forget();
    const result = this.db
      .insert(agents)
      .values(row)
      .onConflictDoNothing({ target: agents.type })
      .run();
    return result.changes === 1;
  }

  update(type: string, changes: Partial<NewAgentRow>, updatedAt: string): AgentRow | undefined {
    this.forget();
    const rows = this.db
      .update(agents)
      .set({ ...changes, updatedAt, version: sql`${agents.version} + 1` })
      .where(eq(agents.type, type))
      .returning()
      .all();
    return rows[0];
  }
}
